// The overview: log size and checkpoint, principals per level, the latest entries, promotions
// and demotions, promises past due — live.

import { clear, entryLink, h, int, iso, note, principalLink, section, stake, stepCause, table, view, wide } from "../dom.js";
import { api, onLogGrowth } from "../session.js";

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

export { overviewView };
