// The policy's ladder, and a form to try a decision.

import { clear, fixed, h, int, iso, note, principalHref, section, stake, table, view } from "../dom.js";
import { api, errorBox, getPolicy, me } from "../session.js";

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

export { ladderView };
