// The stepwise dashboard: the API key and the calls made with it, the router that reads the view
// from the address, each view (overview, principals, a principal, a log entry with its proofs,
// the ladder and a decision, the review queue) and the live updates read from /v1/stream.
// Plain DOM, no framework; every figure shown comes from the JSON API (docs/API.md).

import * as verify from "./verify.js";

const KEY_STORE = "stepwise.key";
const SEEN_STORE = "stepwise.checkpoint"; // the last checkpoint this browser verified
const view = document.getElementById("view");

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers

/** h("a", {href: "/ui/"}, "text", child…): an element; strings become text nodes, never HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const stakeFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

function int(n) {
  return n === null || n === undefined ? "—" : intFormat.format(n);
}

function stake(n) {
  if (n === null || n === undefined) return "—";
  return Number.isFinite(n) ? stakeFormat.format(n) : "∞";
}

function fixed(n, digits = 3) {
  return n === null || n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(digits);
}

function rank(n) {
  if (n === null || n === undefined) return "—";
  return n === 0 ? "0" : n.toExponential(3);
}

/** An instant as ISO 8601 (UTC), as the API gives it. */
function iso(t) {
  return t ? String(t) : "—";
}

function nowIso() {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

const principalHref = (id) => `/ui/principals/${encodeURIComponent(id)}`;
const entryHref = (i) => `/ui/log/${i}`;
const principalLink = (id) => (id ? h("a", { href: principalHref(id) }, id) : "—");
const entryLink = (i, text) => (i === null || i === undefined ? "—" : h("a", { href: entryHref(i) }, text ?? `#${int(i)}`));

function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

/** A card across the whole grid. */
function wide(card) {
  card.classList.add("wide");
  return card;
}

function note(text, cls = "muted") {
  return h("p", { class: cls }, text);
}

function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, errorText(e));
}

function stepCause(cause) {
  if (!cause) return "";
  if (typeof cause === "string") return cause;
  const at = "";
  switch (cause.kind) {
    case "promoted":
      return cause.index === null || cause.index === undefined ? "requirements met as time passed" : "requirements met";
    case "broken_promise":
      return `broken promise of stake ${stake(cause.stake)}${at}`;
    case "overdue_promise":
      return `promise of stake ${stake(cause.stake)} left past due${at}`;
    case "fell_below":
      return `standing fell below the level (expected ${fixed(cause.expected)}, uncertainty ${fixed(cause.uncertainty)})${at}`;
    default:
      return `${cause.kind}${at}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The key and the API

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && (body.error || body)) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_" + status;
    this.field = err.field || null;
  }
}

function errorText(e) {
  if (e instanceof ApiError) {
    return `Refused (${e.status} ${e.code}): ${e.message}` + (e.field ? ` [field: ${e.field}]` : "");
  }
  return `Error: ${e && e.message ? e.message : e}`;
}

const getKey = () => sessionStorage.getItem(KEY_STORE);

/** A `#key=…` fragment signs in and is removed from the address at once. */
function takeKeyFromFragment() {
  const m = /^#key=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(KEY_STORE, decodeURIComponent(m[1]));
  history.replaceState(history.state, "", location.pathname + location.search);
}

/** Calls the API with the key; a 401 signs out and asks for a key again. */
async function api(path, { method = "GET", body, text = false, signal } = {}) {
  const headers = { Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      parsed = null;
    }
    const e = new ApiError(res.status, parsed);
    if (res.status === 401) signOut(`The key was refused: ${e.message}`);
    throw e;
  }
  return text ? res.text() : res.json();
}

const enc = encodeURIComponent;

// The policy changes only when the server restarts: read it once per sign-in.
let policyPromise = null;
function getPolicy() {
  if (!policyPromise) {
    policyPromise = api("/v1/policy");
    policyPromise.catch(() => (policyPromise = null));
  }
  return policyPromise;
}

// ---------------------------------------------------------------------------------------------
// Signing in and out

let me = null; // GET /v1/whoami

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

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  me = null;
  policyPromise = null;
  stopStream();
  signInForm(message);
}

async function start() {
  takeKeyFromFragment();
  if (!getKey()) return signInForm();
  try {
    me = await api("/v1/whoami");
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
// Live updates: /v1/stream read with fetch (EventSource cannot send the key)

const live = new EventTarget();
let streamCtl = null;

function setLive(state) {
  const el = document.getElementById("live");
  el.dataset.live = state;
  el.textContent = `live: ${state}`;
}

function stopStream() {
  if (streamCtl) streamCtl.abort();
  streamCtl = null;
  setLive("off");
}

function startStream() {
  if (streamCtl) return;
  const ctl = new AbortController();
  streamCtl = ctl;
  (async () => {
    let delay = 1000;
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch("/v1/stream", {
          headers: { Authorization: `Bearer ${getKey()}`, Accept: "text/event-stream" },
          signal: ctl.signal,
        });
        if (res.status === 401) return signOut("The key was refused by the live stream.");
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        setLive("on");
        delay = 1000;
        await readEvents(res.body.getReader(), ctl.signal);
      } catch {
        // a dropped or refused stream: try again below, after a pause
      }
      if (ctl.signal.aborted) return;
      setLive("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

/** Reads server-sent events (event:/data: lines, a blank line ends one) and dispatches them. */
async function readEvents(reader, signal) {
  const decoder = new TextDecoder();
  let buffer = "";
  let type = "message";
  let data = [];
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(buffer[nl] === "\r" ? nl + 2 : nl + 1);
      if (line === "") {
        if (data.length) {
          let detail = data.join("\n");
          try {
            detail = JSON.parse(detail);
          } catch {
            // not JSON: pass the text on
          }
          live.dispatchEvent(new CustomEvent(type, { detail }));
        }
        type = "message";
        data = [];
      } else if (line.startsWith(":")) {
        // a comment (keep-alive)
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = val;
        else if (field === "data") data.push(val);
      }
    }
  }
}

/** Calls fn (at most every `ms`) when the log grows, until the view changes. */
function onLogGrowth(fn, ms = 1000) {
  let timer = null;
  let last = 0;
  const handler = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
  // `lagged`: the server dropped announcements for this stream; read everything again too.
  live.addEventListener("log", handler);
  live.addEventListener("lagged", handler);
  cleanups.push(() => {
    live.removeEventListener("log", handler);
    live.removeEventListener("lagged", handler);
    if (timer) clearTimeout(timer);
  });
}

// ---------------------------------------------------------------------------------------------
// Router

let cleanups = [];
let renderSeq = 0;

const routes = [
  [/^\/ui\/?$/, "overview", overviewView],
  [/^\/ui\/principals\/?$/, "principals", principalsView],
  [/^\/ui\/principals\/(.+)$/, "principals", principalView],
  [/^\/ui\/log\/(\d+)$/, "log", entryView],
  [/^\/ui\/ladder\/?$/, "ladder", ladderView],
  [/^\/ui\/review\/?$/, "review", reviewView],
];

function navigate(href) {
  history.pushState(null, "", href);
  render();
}

async function render() {
  if (!me) return;
  for (const c of cleanups) c();
  cleanups = [];
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

// ---------------------------------------------------------------------------------------------
// Overview

async function overviewView(current) {
  document.title = "Overview · stepwise";
  const body = h("div", { class: "grid" });
  const update = async () => {
    const o = await api("/v1/overview");
    if (!current()) return;
    drawOverview(body, o);
  };
  await update();
  if (!current()) return;
  clear(view, h("h1", {}, "Overview"), body);
  onLogGrowth(() => update().catch(() => {}));
}

function drawOverview(body, o) {
  const total = o.principals || 0;
  const cp = o.checkpoint || {};
  const last = o.log_size > 0 ? o.log_size - 1 : null;
  clear(
    body,
    section(
      "Log",
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Entries"),
        h("dd", { id: "log-size", dataset: { value: String(o.log_size) } }, int(o.log_size)),
        h("dt", {}, "Checkpoint size"),
        h("dd", { id: "checkpoint-size" }, int(cp.size)),
        h("dt", {}, "Root"),
        h("dd", { class: "hash" }, cp.root || "—"),
        h("dt", {}, "Latest entry"),
        h("dd", {}, last === null ? "—" : entryLink(last, `#${int(last)} — verify it`)),
      ),
      cp.note ? h("details", {}, h("summary", {}, "Signed checkpoint note"), h("pre", { class: "note" }, cp.note)) : null,
    ),
    section(
      "Principals per level",
      note(`${int(total)} principals` + (o.table_log_size !== undefined ? ` (table at log size ${int(o.table_log_size)})` : "")),
      table(
        ["Level", "Name", "Principals", "Share"],
        (o.levels || []).map((l) =>
          h(
            "tr",
            { dataset: { level: String(l.level) } },
            h("td", { class: "num" }, String(l.level)),
            h("td", {}, l.name),
            h("td", { class: "num" }, int(l.principals)),
            h("td", {}, bar(total ? l.principals / total : 0)),
          ),
        ),
        { id: "levels" },
      ),
    ),
    section(
      "Recent events",
      (o.recent_events || []).length === 0
        ? note("The log is empty.")
        : table(
            ["Entry", "Kind", "Author", "Subject", "At"],
            o.recent_events.map((e) =>
              h(
                "tr",
                {},
                h("td", { class: "num" }, entryLink(e.index)),
                h("td", {}, e.kind),
                h("td", {}, principalLink(e.author)),
                h("td", {}, e.subject ? principalLink(e.subject) : "—"),
                h("td", { class: "time" }, iso(e.at)),
              ),
            ),
            { id: "recent-events" },
          ),
    ),
    section(
      "Recent promotions and demotions",
      (o.recent_steps || []).length === 0
        ? note("None yet.")
        : table(["Principal", "Move", "Cause", "At"], o.recent_steps.map(stepRow), { id: "recent-steps" }),
    ),
    wide(section(
      "Open promises past due",
      note(`${int((o.overdue || {}).count || 0)} past due, counted as broken until judged.`),
      ((o.overdue || {}).promises || []).length === 0 ? null : promiseTable(o.overdue.promises, { id: "overdue" }),
    )),
  );
}

/** A promotion or demotion of the overview (or the stream): from/to levels with their names. */
function stepRow(s) {
  const level = (n, name) => (typeof n === "object" && n ? `${n.level} ${n.name}` : `${n}${name ? " " + name : ""}`);
  const fromN = typeof s.from === "object" ? s.from.level : s.from;
  const toN = typeof s.to === "object" ? s.to.level : s.to;
  const promoted = s.promoted ?? toN > fromN;
  const index = s.index ?? (s.cause && typeof s.cause === "object" ? s.cause.index : null);
  return h(
    "tr",
    {},
    h("td", {}, principalLink(s.principal)),
    h(
      "td",
      {},
      h("span", { class: promoted ? "up" : "down" }, promoted ? "▲ promoted " : "▼ demoted "),
      `${level(s.from, s.from_name)} → ${level(s.to, s.to_name)}`,
    ),
    h("td", {}, s.text || stepCause(s.cause), index !== null && index !== undefined ? [" ", entryLink(index)] : null),
    h("td", { class: "time" }, iso(s.at)),
  );
}

function promiseTable(promises, attrs) {
  return table(
    ["Promise", "Promisor", "Promisee", "Scope", "Stake", "Due"],
    promises.map((p) =>
      h(
        "tr",
        {},
        h("td", {}, entryLink(p.index, p.id)),
        h("td", {}, principalLink(p.promisor)),
        h("td", {}, principalLink(p.promisee)),
        h("td", {}, p.scope),
        h("td", { class: "num" }, stake(p.stake)),
        h("td", { class: "time" }, iso(p.due), p.overdue ? h("span", { class: "badge bad" }, "overdue") : null),
      ),
    ),
    attrs,
  );
}

function bar(share) {
  const outer = h("span", { class: "bar", role: "img", "aria-label": `${(share * 100).toFixed(1)} %` });
  const inner = h("span");
  inner.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  outer.append(inner);
  return h("span", { class: "bar-cell" }, outer, ` ${(share * 100).toFixed(1)} %`);
}

// ---------------------------------------------------------------------------------------------
// Principals: search, sort, pages

const SORTS = [
  ["level", "Level"],
  ["trust", "Expected trust"],
  ["rank", "Network rank"],
  ["id", "Id"],
];

async function principalsView(current) {
  document.title = "Principals · stepwise";
  const params = new URLSearchParams(location.search);
  const prefix = params.get("prefix") || "";
  const sort = SORTS.some(([s]) => s === params.get("sort")) ? params.get("sort") : "level";
  const prefixInput = h("input", { id: "prefix", name: "prefix", type: "search", value: prefix, autocomplete: "off", spellcheck: "false" });
  const sortSelect = h(
    "select",
    { id: "sort", name: "sort" },
    SORTS.map(([s, label]) => h("option", { value: s, selected: s === sort }, label)),
  );
  const form = h(
    "form",
    { class: "inline", id: "principal-search", role: "search" },
    h("span", { class: "field" }, h("label", { for: "prefix" }, "Id starts with"), prefixInput),
    h("span", { class: "field" }, h("label", { for: "sort" }, "Sort by"), sortSelect),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (prefixInput.value.trim()) q.set("prefix", prefixInput.value.trim());
    q.set("sort", sortSelect.value);
    navigate(`/ui/principals?${q}`);
  });
  sortSelect.addEventListener("change", () => form.requestSubmit());

  const summary = h("p", { id: "principals-summary", class: "muted", "aria-live": "polite" });
  const tbody = h("tbody");
  const more = h("button", { type: "button", id: "more", hidden: true }, "More");
  let cursor = null;

  const load = async () => {
    const q = new URLSearchParams({ sort, limit: "50" });
    if (prefix) q.set("prefix", prefix);
    if (cursor) q.set("cursor", cursor);
    const page = await api(`/v1/principals?${q}`);
    if (!current()) return;
    for (const p of page.principals) {
      tbody.append(
        h(
          "tr",
          { dataset: { principal: p.principal } },
          h("td", {}, principalLink(p.principal)),
          h("td", { class: "num" }, String(p.level)),
          h("td", {}, p.level_name),
          h("td", { class: "num" }, fixed(p.expected)),
          h("td", { class: "num" }, fixed(p.uncertainty)),
          h("td", { class: "num" }, rank(p.rank)),
        ),
      );
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    clear(
      summary,
      `Showing ${int(tbody.children.length)} of ${int(page.matched)} matching (${int(page.total)} principals), ` +
        `computed at log size ${int(page.log_size)}, ${iso(page.at)}.`,
    );
  };
  more.addEventListener("click", () => {
    more.disabled = true;
    load()
      .catch((e) => summary.replaceChildren(errorText(e)))
      .finally(() => {
        more.disabled = false;
      });
  });

  await load();
  if (!current()) return;
  clear(
    view,
    h("h1", {}, "Principals"),
    form,
    summary,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "principals" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Principal", "Level", "Level name", "Expected trust", "Uncertainty", "Rank"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        tbody,
      ),
    ),
    h("p", {}, more),
  );
}

// ---------------------------------------------------------------------------------------------
// One principal

async function principalView(id, current) {
  document.title = `${id} · stepwise`;
  const base = `/v1/principals/${enc(id)}`;
  const draw = async () => {
    const [explain, trust, series, vouches, row, policy] = await Promise.all([
      api(`${base}/explain`),
      api(`${base}/trust`),
      api(`${base}/series?points=200`).catch((e) => ({ error: e })),
      api(`${base}/vouches`).catch((e) => ({ error: e })),
      api(`/v1/principals?${new URLSearchParams({ prefix: id, sort: "id", limit: "1" })}`).catch((e) => ({ error: e })),
      getPolicy().catch(() => null),
    ]);
    if (!current()) return null;
    return { explain, trust, series, vouches, row, policy };
  };
  const data = await draw();
  if (!data) return;
  const body = h("div", { id: "principal", dataset: { principal: id } });
  clear(view, h("h1", {}, "Principal ", h("code", {}, id)), body);
  let chart = null;
  const paint = (d) => {
    if (chart) chart.destroy();
    chart = drawPrincipal(body, id, d);
  };
  paint(data);
  cleanups.push(() => chart && chart.destroy());
  onLogGrowth(() =>
    draw()
      .then((d) => d && current() && paint(d))
      .catch(() => {}),
    2000,
  );
}

function drawPrincipal(body, id, { explain: x, trust: t, series, vouches, row, policy }) {
  const levelName = (k) => {
    const l = policy && policy.ladder[k];
    return l ? `${k} ${l.name}` : String(k);
  };
  const exact = row && !row.error ? (row.principals || []).find((p) => p.principal === id) : null;
  const rankText = exact ? rank(exact.rank) : t ? rank(t.rank) : "—";
  const standing = section(
    "Level and standing",
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Level"),
      h("dd", { id: "level", dataset: { level: String(x.level.index) } }, `${x.level.index} — ${x.level.name}`),
      h("dt", {}, "Expected trust (standing)"),
      h("dd", { id: "expected" }, fixed(x.expected)),
      h("dt", {}, "Uncertainty"),
      h("dd", {}, fixed(x.uncertainty)),
      h("dt", {}, "Limit now"),
      h("dd", {}, `${stake(x.limit)} (level allows ${stake(x.max_stake)})`),
      h("dt", {}, "At stake now"),
      h("dd", {}, stake(x.exposure)),
      h("dt", {}, "Capabilities"),
      h("dd", {}, x.capabilities.join(", ") || "—"),
      h("dt", {}, "Network rank"),
      h("dd", { id: "rank" }, rankText, exact ? ` (table at log size ${int(row.log_size)})` : ""),
      h("dt", {}, "As of"),
      h("dd", {}, `${iso(x.at)}, log size ${int(x.log_size)}`),
    ),
    t
      ? h(
          "p",
          { class: "muted", id: "counts", dataset: { ratings: String(t.counts.ratings_positive + t.counts.ratings_negative) } },
          `Evidence counts: ${int(t.counts.kept)} kept, ${int(t.counts.broken)} broken, ${int(t.counts.partial)} partial, ` +
            `${int(t.counts.overdue)} overdue, ${int(t.counts.ratings_positive)} positive and ${int(t.counts.ratings_negative)} negative ratings, ` +
            `${int(t.counts.reports)} reports, ${int(t.counts.vouches)} vouches.`,
        )
      : null,
  );

  const next = x.next_step;
  const checklist = section(
    "Next step",
    next
      ? [
          note(`To reach level ${next.level} — ${next.name} (stakes up to ${stake(next.max_stake)}):`, ""),
          h(
            "ul",
            { class: "checklist", id: "next-step" },
            next.requirements.map((r) =>
              h(
                "li",
                { class: r.met ? "met" : "unmet", dataset: { met: String(r.met), name: r.name } },
                h("span", { class: "mark", "aria-hidden": "true" }, r.met ? "✓" : "✗"),
                h("span", { class: "sr-only" }, r.met ? "met: " : "not met: "),
                r.message,
              ),
            ),
          ),
        ]
      : note("At the top of the ladder: there is no next step."),
  );

  const chartBox = h("div", { class: "chart", id: "chart" });
  const chartCard = section("Expected trust and level over time", chartBox);
  if (series && series.error) chartBox.append(errorBox(series.error));
  else if (!series || series.points.length < 2) chartBox.append(note("Not enough evidence over time to draw."));
  else chartCard.append(note(`${int(series.points.length)} points from ${iso(series.from)} to ${iso(series.to)}.`));

  const timeline = section(
    "Timeline of promotions and demotions",
    x.timeline.length === 0
      ? note("No promotion or demotion yet.")
      : table(
          ["At", "Move", "Cause"],
          x.timeline
            .slice()
            .reverse()
            .map((s) =>
              h(
                "tr",
                {},
                h("td", { class: "time" }, iso(s.at)),
                h("td", {}, h("span", { class: s.to > s.from ? "up" : "down" }, s.to > s.from ? "▲ " : "▼ "), `${levelName(s.from)} → ${levelName(s.to)}`),
                h("td", {}, stepCause(s.cause), s.cause && s.cause.index !== null && s.cause.index !== undefined ? [" ", entryLink(s.cause.index)] : null),
              ),
            ),
          { id: "timeline" },
        ),
  );

  const cited = [...new Set([...(x.evidence || []), ...((t && t.indexes) || [])])].sort((a, b) => a - b);
  const shown = cited.slice(-300);
  const historySet = new Set([...(x.history || []), ...((t && t.history) || [])]);
  const allHistory = cited.length > 0 && cited.every((i) => historySet.has(i));
  const evidence = section(
    "Evidence",
    note(
      `${int(cited.length)} log entries cited by the standing and the trust figure` +
        (t && t.indexes_total > (t.indexes || []).length ? ` (the trust figure rests on ${int(t.indexes_total)} in all)` : "") +
        (shown.length < cited.length ? `; the latest ${int(shown.length)} are listed` : "") +
        (allHistory ? "; all imported as history (dated by their data set)." : historySet.size ? "; entries marked h were imported as history." : "."),
    ),
    h(
      "ul",
      { class: "chips", id: "evidence" },
      shown.map((i) => h("li", {}, entryLink(i, historySet.has(i) && !allHistory ? `#${int(i)} h` : `#${int(i)}`))),
    ),
  );

  const vouchCard = section("Vouches");
  if (vouches && vouches.error) vouchCard.append(errorBox(vouches.error));
  else if (vouches) {
    const rows = (list, who) =>
      list.length === 0
        ? note("None.")
        : table(
            [who === "voucher" ? "Voucher" : "Subject", "Scope", "Counted", "Entry"],
            list.map((v) =>
              h(
                "tr",
                {},
                h("td", {}, principalLink(v[who])),
                h("td", {}, v.scope || "all scopes"),
                h("td", {}, v.counted === undefined ? "—" : v.counted ? "yes" : "no (no seed reaches the voucher)"),
                h("td", {}, entryLink(v.index)),
              ),
            ),
          );
    append(vouchCard, [
      h("h3", {}, `Received (${int(vouches.received.length)})`),
      h("div", { id: "vouches-received" }, rows(vouches.received, "voucher")),
      h("h3", {}, `Given (${int(vouches.given.length)})`),
      h("div", { id: "vouches-given" }, rows(vouches.given, "subject")),
    ]);
  }

  clear(body, h("div", { class: "grid" }, standing, checklist), chartCard, timeline, evidence, vouchCard);
  if (series && !series.error && series.points.length >= 2) return drawChart(chartBox, series);
  return null;
}

function drawChart(box, series) {
  if (typeof uPlot !== "function") {
    box.append(note("The chart library did not load."));
    return null;
  }
  const xs = series.points.map((p) => Date.parse(p.at) / 1000);
  const expected = series.points.map((p) => p.expected);
  const levels = series.points.map((p) => p.level);
  const width = () => Math.max(280, box.clientWidth || 600);
  const opts = {
    width: width(),
    height: 260,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: { x: { time: true }, trust: { range: [0, 1] }, level: { range: (u, min, max) => [0, Math.max(1, max + 0.5)] } },
    series: [
      { label: "time (UTC)", value: (u, v) => (v === null ? "—" : new Date(v * 1000).toISOString().replace(".000Z", "Z")) },
      { label: "expected trust", scale: "trust", stroke: "#1f5fbf", width: 2, value: (u, v) => (v === null ? "—" : v.toFixed(3)) },
      { label: "level", scale: "level", stroke: "#b5501a", width: 2, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => (v === null ? "—" : String(v)) },
    ],
    axes: [
      {
        // Dates as ISO 8601 (UTC): the day, or the time of day over a short span.
        space: 90,
        values: (u, splits) => {
          const step = splits.length > 1 ? splits[1] - splits[0] : 86400;
          return splits.map((s) => {
            const t = new Date(s * 1000).toISOString();
            return step < 86400 ? `${t.slice(5, 10)} ${t.slice(11, 16)}` : t.slice(0, 10);
          });
        },
      },
      { scale: "trust", label: "expected trust" },
      { scale: "level", side: 1, label: "level", grid: { show: false }, incrs: [1] },
    ],
  };
  const plot = new uPlot(opts, [xs, expected, levels], box);
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", `Expected trust from ${fixed(expected[0])} to ${fixed(expected[expected.length - 1])}, level from ${levels[0]} to ${levels[levels.length - 1]}`);
  const resize = () => plot.setSize({ width: width(), height: 260 });
  window.addEventListener("resize", resize);
  return { destroy: () => (window.removeEventListener("resize", resize), plot.destroy()) };
}

// ---------------------------------------------------------------------------------------------
// A log entry and its proofs

const PRINCIPAL_FIELDS = ["author", "promisor", "promisee", "subject", "voucher", "rater", "reporter", "principal"];

async function entryView(indexText, current) {
  const index = Number(indexText);
  document.title = `Entry ${index} · stepwise`;
  const entry = await api(`/v1/events/${index}`);
  if (!current()) return;
  const ev = entry.event || {};
  let decoded;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(verify.b64ToBytes(entry.bytes));
  } catch {
    decoded = "(not UTF-8)";
  }
  const fields = Object.keys(ev)
    .sort()
    .map((k) => {
      let value = typeof ev[k] === "object" ? JSON.stringify(ev[k]) : String(ev[k]);
      if (PRINCIPAL_FIELDS.includes(k) && typeof ev[k] === "string") value = principalLink(ev[k]);
      else if (k === "evidence" && Number.isInteger(ev[k])) value = entryLink(ev[k]);
      return [h("dt", {}, k), h("dd", {}, value)];
    });
  const checks = h("ol", { class: "checks", id: "checks" });
  const overall = h("p", { id: "proof-summary", class: "proof", "aria-live": "polite", dataset: { proof: "pending" } }, "Verifying…");
  const consistency = h("div", { id: "consistency" });
  clear(
    view,
    h("h1", {}, `Log entry #${int(index)}`),
    h(
      "nav",
      { class: "pager", "aria-label": "Entries" },
      index > 0 ? h("a", { href: entryHref(index - 1) }, "← previous entry") : null,
      " ",
      h("a", { href: entryHref(index + 1) }, "next entry →"),
    ),
    h("div", { class: "grid" }, section("Event", h("dl", { class: "facts", id: "event" }, fields)), section("Verification in this browser", overall, checks)),
    section("Consistency of the log", consistency),
    section(
      "Bytes",
      note("The canonical bytes the log hashed (RFC 8785 JSON):"),
      h("pre", { class: "bytes", id: "bytes-text" }, decoded),
      h("details", {}, h("summary", {}, "Base64 and leaf hash as served"), h("pre", { class: "bytes" }, entry.bytes), h("p", { class: "hash" }, `leaf hash ${entry.leaf_hash}`)),
    ),
  );
  const result = await verifyEntry(index, entry, checks, current);
  if (!current()) return;
  overall.dataset.proof = result.ok ? "verified" : "failed";
  overall.textContent = result.ok
    ? `Verified: entry #${int(index)} is in the log of ${int(result.checkpoint.size)} entries whose checkpoint the log key signed.`
    : `Failed: ${result.reason}`;
  consistencyPanel(consistency, index, result, current);
}

/** Adds one check's result to the list: data-proof verified or failed, and words. */
function checkItem(list, name, ok, words) {
  list.append(
    h(
      "li",
      { class: ok ? "ok" : "bad", dataset: { proof: ok ? "verified" : "failed", check: name } },
      h("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"),
      h("strong", {}, ok ? " verified: " : " failed: "),
      words,
    ),
  );
  return ok;
}

/**
 * Checks entry `index`: its bytes hash to the leaf, the audit path leads from the leaf to the
 * root of the checkpoint, the checkpoint is signed by the log's verifier key. { ok, reason, checkpoint }.
 */
async function verifyEntry(index, entry, list, current) {
  let failed = null;
  const fail = (why) => (failed = failed || why);
  const [note_, policy] = await Promise.all([api("/v1/log/checkpoint", { text: true }), getPolicy()]);
  if (!current()) return { ok: false };
  const signed = await verify.verifyCheckpoint(note_, policy.verifier_key);
  if (!checkItem(list, "checkpoint", signed.ok, signed.ok ? `the checkpoint is ${signed.reason}.` : `checkpoint signature: ${signed.reason}.`)) {
    fail(`the checkpoint's signature: ${signed.reason}`);
  }
  const cp = signed.checkpoint;
  if (!cp) return { ok: false, reason: failed };

  let bytes;
  try {
    bytes = verify.b64ToBytes(entry.bytes);
  } catch (e) {
    bytes = new Uint8Array();
    fail(e.message);
  }
  const leaf = await verify.leafHash(bytes);
  const claimed = entry.leaf_hash;
  const leafOk = verify.bytesToHex(leaf) === String(claimed).toLowerCase();
  if (
    !checkItem(
      list,
      "leaf",
      leafOk,
      leafOk
        ? `SHA-256(0x00 ‖ the entry's ${int(bytes.length)} bytes) is the leaf hash ${verify.bytesToHex(leaf)}.`
        : `the entry's bytes hash to ${verify.bytesToHex(leaf)}, but the log gives the leaf hash ${claimed}.`,
    )
  ) {
    fail("the entry's bytes do not hash to its leaf hash");
  }

  if (index >= cp.size) {
    checkItem(list, "inclusion", false, `entry ${index} is beyond the checkpoint's ${cp.size} entries.`);
    return { ok: false, reason: fail("the entry is not covered by the checkpoint"), checkpoint: cp };
  }
  const proof = await api(`/v1/log/proof/inclusion?index=${index}&size=${cp.size}`);
  if (!current()) return { ok: false };
  let path;
  try {
    path = proof.proof.map(verify.hexToBytes);
  } catch (e) {
    path = null;
    checkItem(list, "inclusion", false, `the proof is malformed: ${e.message}.`);
    fail("the inclusion proof is malformed");
  }
  if (path) {
    // The path starts from the hash of the bytes we were given, not from any hash the server claims.
    const inc = await verify.verifyInclusion(index, cp.size, leaf, path, cp.root);
    if (
      !checkItem(
        list,
        "inclusion",
        inc.ok,
        inc.ok
          ? `the ${path.length}-hash audit path leads from the leaf to the signed root: ${inc.reason}.`
          : `the audit path does not lead from the leaf to the signed root: ${inc.reason}.`,
      )
    ) {
      fail(`the inclusion proof: ${inc.reason}`);
    }
  }
  const sameTree = proof.size === cp.size && String(proof.root).toLowerCase() === verify.bytesToHex(cp.root);
  if (
    !checkItem(
      list,
      "root",
      sameTree,
      sameTree
        ? `the proof's tree (${int(proof.size)} entries, root ${proof.root}) is the signed checkpoint's.`
        : `the proof is for ${int(proof.size)} entries with root ${proof.root}, the checkpoint for ${int(cp.size)} with root ${verify.bytesToHex(cp.root)}.`,
    )
  ) {
    fail("the proof's root and size are not the checkpoint's");
  }
  if (!failed) {
    localStorage.setItem(SEEN_STORE, JSON.stringify({ size: cp.size, root: verify.bytesToHex(cp.root) }));
  }
  return { ok: !failed, reason: failed, checkpoint: cp, leaf };
}

function seenCheckpoint() {
  try {
    const s = JSON.parse(localStorage.getItem(SEEN_STORE) || "null");
    return s && Number.isSafeInteger(s.size) && typeof s.root === "string" ? s : null;
  } catch {
    return null;
  }
}

/** The consistency check between an earlier size and the latest signed checkpoint. */
function consistencyPanel(box, index, result, current) {
  const cp = result.checkpoint;
  if (!cp) {
    clear(box, note("No signed checkpoint to check against."));
    return;
  }
  const seen = seenCheckpoint();
  const start = seen && seen.size > 0 && seen.size < cp.size ? seen.size : Math.min(index + 1, cp.size);
  const input = h("input", { id: "old-size", type: "number", min: "1", max: String(cp.size), value: String(start), required: true });
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "inline" },
    h("span", { class: "field" }, h("label", { for: "old-size" }, "Earlier size"), input),
    h("span", {}, ` → latest signed size ${int(cp.size)} `),
    h("button", { type: "submit" }, "Check consistency"),
  );
  const run = async () => {
    const old = Number(input.value);
    clear(out, note("Checking…"));
    try {
      const r = await checkConsistency(old, index, cp, result.leaf, seen);
      if (!current()) return;
      clear(out, h("p", { id: "consistency-result", class: `proof ${r.ok ? "ok" : "bad"}`, dataset: { proof: r.ok ? "verified" : "failed" } }, r.ok ? "Verified: " : "Failed: ", r.reason));
    } catch (e) {
      if (!current()) return;
      clear(out, h("p", { id: "consistency-result", class: "proof bad", dataset: { proof: "failed" } }, "Failed: ", errorText(e)));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
  clear(
    box,
    note(
      "A consistency proof shows that the latest tree extends an earlier one: nothing recorded before was changed or removed. " +
        "The earlier root is anchored by this entry's inclusion proof at the earlier size (when the entry is in it) or by the checkpoint this browser last verified.",
    ),
    form,
    out,
  );
  run();
}

async function checkConsistency(old, index, cp, leaf, seen) {
  if (!Number.isSafeInteger(old) || old < 1 || old > cp.size) {
    return { ok: false, reason: `the earlier size must be between 1 and ${cp.size}.` };
  }
  const proof = await api(`/v1/log/proof/consistency?old=${old}&new=${cp.size}`);
  const words = [];
  if (proof.old_size !== old || proof.new_size !== cp.size) {
    return { ok: false, reason: `the proof is for ${proof.old_size} → ${proof.new_size}, not ${old} → ${cp.size}.` };
  }
  const newRoot = verify.hexToBytes(proof.new_root);
  if (!verify.equalBytes(newRoot, cp.root)) {
    return { ok: false, reason: `the proof's later root ${proof.new_root} is not the signed checkpoint's ${verify.bytesToHex(cp.root)}.` };
  }
  const oldRoot = verify.hexToBytes(proof.old_root);
  // Anchor the earlier root in something checked here, not in the server's word alone.
  if (leaf && index < old) {
    const inc = await api(`/v1/log/proof/inclusion?index=${index}&size=${old}`);
    const r = await verify.verifyInclusion(index, old, leaf, inc.proof.map(verify.hexToBytes), oldRoot);
    if (!r.ok) return { ok: false, reason: `the earlier root ${proof.old_root} is not the root this entry's audit path at size ${old} leads to: ${r.reason}.` };
    words.push(`the earlier root is the one entry #${index}'s audit path at size ${old} leads to`);
  } else if (seen && seen.size === old) {
    if (seen.root !== proof.old_root.toLowerCase()) {
      return { ok: false, reason: `the earlier root ${proof.old_root} is not the root ${seen.root} of the checkpoint this browser verified at size ${old}.` };
    }
    words.push(`the earlier root is that of the checkpoint this browser verified at size ${old}`);
  } else {
    words.push("the earlier root is as the server gave it");
  }
  const r = await verify.verifyConsistency(old, cp.size, proof.proof.map(verify.hexToBytes), oldRoot, newRoot);
  if (!r.ok) return { ok: false, reason: `${r.reason}.` };
  return { ok: true, reason: `${r.reason}; the later root is the signed checkpoint's; ${words.join("; ")}.` };
}

// ---------------------------------------------------------------------------------------------
// The ladder and a decision

async function ladderView(current) {
  document.title = "Ladder · stepwise";
  const policy = await getPolicy();
  if (!current()) return;
  const capabilities = [...new Set(policy.ladder.flatMap((l) => l.capabilities))];
  const reqText = (r) => {
    if (!r) return "where everyone starts";
    const n = (k, one, many) => `${stake(k)} ${k === 1 ? one : many}`;
    const parts = [
      `${n(r.kept, "kept promise", "kept promises")} of stake ≥ ${stake(r.kept_min_stake)}`,
      `expected trust ≥ ${fixed(r.min_expected, 2)}`,
      `uncertainty ≤ ${fixed(r.max_uncertainty, 2)}`,
      `${n(r.min_tenure_days, "day", "days")} at the level below`,
      `${n(r.clean_for_days, "day", "days")} without a broken promise`,
    ];
    if (r.min_counterparties) parts.push(n(r.min_counterparties, "distinct promisee", "distinct promisees"));
    if (r.vouches) parts.push(`${n(r.vouches, "vouch", "vouches")} from level ${r.vouchers_level} or above`);
    return parts.join("; ");
  };
  const ladder = table(
    ["Level", "Name", "Max stake", "Capabilities", "To enter"],
    policy.ladder.map((l) =>
      h(
        "tr",
        { dataset: { level: String(l.index) } },
        h("td", { class: "num" }, String(l.index)),
        h("td", {}, l.name),
        h("td", { class: "num" }, stake(l.max_stake)),
        h("td", {}, l.capabilities.join(", ")),
        h("td", {}, reqText(l.requires)),
      ),
    ),
    { id: "ladder" },
  );

  const subject = h("input", { id: "subject", name: "subject", required: true, autocomplete: "off", spellcheck: "false", value: new URLSearchParams(location.search).get("subject") || (me && me.principal) || "" });
  const capability = h("select", { id: "capability", name: "capability" }, capabilities.map((c) => h("option", { value: c }, c)));
  const stakeInput = h("input", { id: "stake", name: "stake", type: "number", min: "0", step: "any", value: "1", required: true });
  const verdict = h("div", { id: "verdict", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "decide", class: "inline" },
    h("span", { class: "field" }, h("label", { for: "subject" }, "Subject"), subject),
    h("span", { class: "field" }, h("label", { for: "capability" }, "Capability"), capability),
    h("span", { class: "field" }, h("label", { for: "stake" }, "Stake"), stakeInput),
    h("button", { type: "submit" }, "Decide"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(verdict, note("Deciding…"));
    try {
      const d = await api("/v1/decide", {
        method: "POST",
        body: { subject: subject.value.trim(), capability: capability.value, stake: Number(stakeInput.value) },
      });
      if (!current()) return;
      drawDecision(verdict, d);
    } catch (e) {
      if (current()) clear(verdict, errorBox(e));
    }
  });
  clear(
    view,
    h("h1", {}, "Ladder"),
    section("Levels", ladder, h("details", {}, h("summary", {}, "The policy file (stepwise.toml)"), h("pre", { class: "note" }, policy.toml))),
    section("Decide", note("May this principal use this capability at this stake now?"), form, verdict),
  );
}

function drawDecision(box, d) {
  clear(
    box,
    h(
      "p",
      { class: `verdict ${d.allowed ? "ok" : "bad"}`, dataset: { allowed: String(d.allowed) } },
      d.allowed ? "Allowed" : "Denied",
      ` — ${d.subject} at level ${d.level.index} (${d.level.name}), limit ${stake(d.limit)}, at stake already ${stake(d.exposure)}.`,
    ),
    h("h3", {}, "Reasons"),
    h("ul", { id: "reasons" }, d.reasons.map((r) => h("li", { dataset: { code: r.code } }, r.message, " ", h("code", {}, r.code)))),
    d.retryable !== null && d.retryable !== undefined
      ? note(d.retryable ? `It may be allowed later${d.earliest_retry ? `, from ${d.earliest_retry} if nothing new is recorded` : " with more evidence"}.` : "No record could allow this under this policy.")
      : null,
    d.next_step
      ? [
          h("h3", {}, `Next step: level ${d.next_step.level} — ${d.next_step.name}`),
          h(
            "ul",
            { class: "checklist", id: "decision-next-step" },
            d.next_step.requirements.map((r) => h("li", { class: r.met ? "met" : "unmet" }, h("span", { class: "mark", "aria-hidden": "true" }, r.met ? "✓" : "✗"), h("span", { class: "sr-only" }, r.met ? "met: " : "not met: "), r.message)),
          ),
        ]
      : null,
    note(`Computed at log size ${int(d.log_size)}, ${iso(d.at)}; cites ${int(d.evidence.length)} entries.`),
    h("p", {}, h("a", { href: principalHref(d.subject) }, `See ${d.subject}`)),
  );
}

// ---------------------------------------------------------------------------------------------
// The review queue: promises awaiting the signed-in principal's judgement

async function reviewView(current) {
  document.title = "Review · stepwise";
  if (!me.principal) {
    clear(view, h("h1", {}, "Review"), note("This key has no principal, so there is no review queue: promises are judged by their promisee."));
    return;
  }
  const status = h("div", { id: "review-status", "aria-live": "polite" });
  const list = h("div", { id: "review-list" });
  clear(view, h("h1", {}, "Review"), note(`Promises made to ${me.principal} that await its judgement, oldest first. An outcome is recorded in the log with this key (a recorder key).`), status, list);
  const standings = new Map();
  const standingOf = async (p) => {
    const x = await api(`/v1/principals/${enc(p)}/explain`);
    return { expected: x.expected, level: x.level };
  };
  const load = async () => {
    const page = await api(`/v1/promises?${new URLSearchParams({ open: "true", promisee: me.principal, limit: "200" })}`);
    if (!current()) return;
    const promisors = [...new Set(page.promises.map((p) => p.promisor))];
    const got = await Promise.all(promisors.map((p) => standingOf(p).catch(() => null)));
    promisors.forEach((p, i) => standings.set(p, got[i]));
    if (!current()) return;
    drawQueue(list, page, standings, record);
  };
  const record = async (p, result, fraction, button) => {
    const before = standings.get(p.promisor);
    const body = { kind: "outcome", at: nowIso(), promise: p.id, result };
    if (result === "partial") body.fraction = fraction;
    for (const b of list.querySelectorAll("button")) b.disabled = true;
    try {
      const r = await api("/v1/events", { method: "POST", body });
      const index = r.results && r.results[0] ? r.results[0].index : null;
      const after = await standingOf(p.promisor).catch(() => null);
      if (!current()) return;
      clear(
        status,
        h(
          "p",
          { class: "ok", id: "review-result", dataset: { promise: p.id } },
          `Recorded: promise ${p.id} ${result}${result === "partial" ? ` (${fraction})` : ""} as entry `,
          entryLink(index),
          `. ${p.promisor}'s standing: `,
          h("span", { class: "standing-before" }, before ? `${fixed(before.expected)} (level ${before.level.index} ${before.level.name})` : "—"),
          " → ",
          h("span", { class: "standing-after" }, after ? `${fixed(after.expected)} (level ${after.level.index} ${after.level.name})` : "—"),
          ".",
        ),
      );
    } catch (e) {
      if (!current()) return;
      clear(status, h("p", { class: "error", role: "alert", id: "review-error" }, `Could not record the outcome of ${p.id}: ${errorText(e)}`));
    }
    await load().catch((e) => current() && status.append(errorBox(e)));
    const again = button && button.isConnected ? button : list.querySelector("button");
    if (again) again.focus();
  };
  await load();
}

function drawQueue(list, page, standings, record) {
  if (page.promises.length === 0) {
    clear(list, note("Nothing awaits judgement.", "muted empty"));
    return;
  }
  clear(
    list,
    note(`${int(page.promises.length)} open promises${page.next_cursor !== null && page.next_cursor !== undefined ? " (more after these)" : ""}, as of ${iso(page.at)}.`),
    table(
      ["Promise", "Promisor", "Standing", "Scope", "Stake", "Made", "Due", "Outcome"],
      page.promises.map((p) => {
        const s = standings.get(p.promisor);
        const fraction = h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.5", id: `fraction-${p.index}`, class: "fraction" });
        const btn = (result, label) =>
          h("button", { type: "button", dataset: { result }, onclick: (ev) => record(p, result, Number(fraction.value), ev.currentTarget) }, label);
        return h(
          "tr",
          { dataset: { promise: p.id } },
          h("td", {}, entryLink(p.index, p.id)),
          h("td", {}, principalLink(p.promisor)),
          h("td", { class: "num" }, s ? `${fixed(s.expected)} (${s.level.name})` : "—"),
          h("td", {}, p.scope),
          h("td", { class: "num" }, stake(p.stake)),
          h("td", { class: "time" }, iso(p.made)),
          h("td", { class: "time" }, iso(p.due), p.overdue ? h("span", { class: "badge bad" }, "overdue") : null),
          h(
            "td",
            { class: "actions" },
            btn("kept", "Kept"),
            btn("broken", "Broken"),
            h("span", { class: "partial" }, btn("partial", "Partial"), h("label", { for: `fraction-${p.index}`, class: "sr-only" }, `Fraction kept of ${p.id}`), fraction),
          ),
        );
      }),
      { id: "review" },
    ),
  );
}

// ---------------------------------------------------------------------------------------------

start();
