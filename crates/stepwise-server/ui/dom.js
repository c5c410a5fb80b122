// The dashboard's DOM and formatting helpers, and moving between views: elements built from
// data (text nodes, never HTML), numbers and instants as the API gives them, links to principals
// and entries, and what a view leaves behind when the address changes.


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
/** A pseudonym the log no longer maps to an id: a forgotten principal (docs/PRIVACY.md). */
const isForgotten = (id) => /^~[0-9a-f]{32}$/.test(id || "");
const forgottenBadge = () => h("span", { class: "badge forgotten", title: "Forgotten: its id, its notes and its secret were erased; its evidence still counts" }, "forgotten");
const principalLink = (id) =>
  id ? h("a", { href: principalHref(id) }, isForgotten(id) ? [h("code", {}, `${id.slice(0, 9)}…`), forgottenBadge()] : id) : "—";
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
// What a view leaves behind, and moving between views

const cleanups = [];

/** Runs `fn` when the view changes (a listener removed, a chart destroyed). */
function onCleanup(fn) {
  cleanups.push(fn);
}

/** Runs and forgets what the last view left behind. */
function runCleanups() {
  for (const c of cleanups.splice(0)) c();
}

/** Shows the view at `href` (the router renders on `popstate`). */
function navigate(href) {
  history.pushState(null, "", href);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export { append, clear, entryHref, entryLink, fixed, forgottenBadge, h, int, isForgotten, iso, navigate, note, nowIso, onCleanup, principalHref, principalLink, rank, runCleanups, section, stake, stepCause, table, view, wide };
