// The review queue: the calls `stepwise gate` holds for the signed-in principal's approval, with
// approve / decline buttons, and the promises awaiting its judgement, with kept / broken /
// partial buttons.

import { clear, entryLink, fixed, h, int, iso, note, nowIso, principalLink, stake, table, view } from "../dom.js";
import { api, enc, errorBox, errorText, me } from "../session.js";

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
  const held = h("div", { id: "approvals-list" });
  clear(
    view,
    h("h1", {}, "Review"),
    h("h2", {}, "Calls awaiting your approval"),
    note(`Calls an agent made that the ladder refused "not yet", held for ${me.principal} to approve: an approval is recorded in the log in your name, and if the call's promise is broken your approvals weigh less.`),
    held,
    h("h2", {}, "Promises awaiting your judgement"),
    note(`Promises made to ${me.principal} that await its judgement, oldest first. An outcome is recorded in the log with this key (a recorder key).`),
    status,
    list,
  );
  const loadHeld = async () => {
    const page = await api(`/v1/approvals?${new URLSearchParams({ approver: me.principal })}`);
    if (!current()) return;
    drawHeld(held, page.approvals, answer);
  };
  const answer = async (entry, approve) => {
    for (const b of held.querySelectorAll("button")) b.disabled = true;
    try {
      const r = await api(`/v1/approvals/${entry.seq}`, { method: "POST", body: { approve } });
      if (!current()) return;
      clear(
        status,
        h(
          "p",
          { class: "ok", id: "approval-result", dataset: { seq: String(entry.seq) } },
          `${approve ? "Approved" : "Declined"}: ${entry.principal}'s call to ${entry.tool} at stake ${stake(entry.stake)}`,
          r.approval_index !== null && r.approval_index !== undefined ? h("span", {}, "; the approval is entry ", entryLink(r.approval_index)) : null,
          ".",
        ),
      );
    } catch (e) {
      if (!current()) return;
      clear(status, h("p", { class: "error", role: "alert", id: "approval-error" }, `Could not answer call ${entry.seq}: ${errorText(e)}`));
    }
    await loadHeld().catch((e) => current() && status.append(errorBox(e)));
  };
  await loadHeld().catch((e) => current() && held.append(errorBox(e)));
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

function drawHeld(held, approvals, answer) {
  if (approvals.length === 0) {
    clear(held, note("No call awaits your approval.", "muted empty"));
    return;
  }
  clear(
    held,
    table(
      ["Call", "Agent", "Tool", "Capability", "Stake", "Refused for", "Waits until", "Answer"],
      approvals.map((entry) =>
        h(
          "tr",
          { dataset: { seq: String(entry.seq) } },
          h("td", { class: "num" }, `#${entry.seq}`),
          h("td", {}, principalLink(entry.principal)),
          h("td", {}, entry.tool),
          h("td", {}, entry.capability || "—"),
          h("td", { class: "num" }, stake(entry.stake)),
          h("td", {}, (entry.reasons || [])[0] || "—"),
          h("td", { class: "time" }, iso(entry.expires_at)),
          h(
            "td",
            { class: "actions" },
            h("button", { type: "button", dataset: { answer: "approve" }, onclick: () => answer(entry, true) }, "Approve"),
            h("button", { type: "button", dataset: { answer: "decline" }, onclick: () => answer(entry, false) }, "Decline"),
          ),
        ),
      ),
      { id: "approvals" },
    ),
  );
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

export { reviewView };
