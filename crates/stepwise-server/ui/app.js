// The stepwise dashboard: signing in and out, and the router that reads the view from the
// address and renders it. Plain DOM, no framework; every figure shown comes from the JSON API
// (docs/API.md). The views are modules of their own (views/), over the helpers of dom.js and
// the session of session.js.

import { clear, h, navigate, note, runCleanups, view } from "./dom.js";
import { ApiError, KEY_STORE, api, errorBox, getKey, me, session, setMe, signOut, startStream, takeKeyFromFragment } from "./session.js";
import { overviewView } from "./views/overview.js";
import { principalsView } from "./views/principals.js";
import { principalView } from "./views/principal.js";
import { entryView } from "./views/entry.js";
import { ladderView } from "./views/ladder.js";
import { reviewView } from "./views/review.js";
import { receiptView } from "./views/receipt.js";

// ---------------------------------------------------------------------------------------------
// Signing in and out

function signInForm(message) {
  const input = h("input", {
    id: "key",
    name: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const form = h(
    "form",
    { id: "sign-in", class: "card narrow" },
    h("h1", {}, "Sign in"),
    note("Enter an API key (created with `stepwise key create`). It is kept in this tab only (session storage) and sent in the Authorization header."),
    message ? h("p", { class: "error", role: "alert", id: "sign-in-message" }, message) : null,
    h("label", { for: "key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    start();
  });
  document.getElementById("who").hidden = true;
  document.title = "Sign in · stepwise";
  clear(view, form);
  input.focus();
}

session.addEventListener("signed-out", (ev) => signInForm(ev.detail));

async function start() {
  takeKeyFromFragment();
  if (!getKey()) return signInForm();
  try {
    setMe(await api("/v1/whoami"));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // the form is back, with the message
    clear(view, errorBox(e));
    return;
  }
  const who = document.getElementById("who");
  who.hidden = false;
  clear(
    document.getElementById("whoami"),
    "Signed in: ",
    h("strong", {}, me.principal || "no principal"),
    ` (${me.role}, key ${me.key_id})`,
  );
  startStream();
  render();
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));

// ---------------------------------------------------------------------------------------------
// Router

let renderSeq = 0;

const routes = [
  [/^\/ui\/?$/, "overview", overviewView],
  [/^\/ui\/principals\/?$/, "principals", principalsView],
  [/^\/ui\/principals\/(.+)$/, "principals", principalView],
  [/^\/ui\/log\/(\d+)$/, "log", entryView],
  [/^\/ui\/ladder\/?$/, "ladder", ladderView],
  [/^\/ui\/review\/?$/, "review", reviewView],
  [/^\/ui\/receipt\/?$/, "receipt", receiptView],
];

async function render() {
  if (!me) return;
  runCleanups();
  const seq = ++renderSeq;
  const path = location.pathname;
  const found = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll("nav a[data-nav]")) {
    if (found && a.dataset.nav === found[1]) {
      a.setAttribute("aria-current", "page");
    } else {
      a.removeAttribute("aria-current");
    }
  }
  clear(view, h("p", { class: "muted" }, "Loading…"));
  if (!found) {
    document.title = "Not found · stepwise";
    clear(view, h("h1", {}, "Not found"), note(`No view at ${path}.`), h("p", {}, h("a", { href: "/ui/" }, "Overview")));
    return;
  }
  const args = found[0].exec(path).slice(1).map(decodeURIComponent);
  try {
    await found[2](...args, () => seq === renderSeq);
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e instanceof ApiError && e.status === 401) return;
    clear(view, h("h1", {}, "Could not load this view"), errorBox(e));
  }
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui/") || url.pathname.startsWith("/ui/assets/")) return;
  if (a.getAttribute("href").startsWith("#")) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", () => render());

start();
