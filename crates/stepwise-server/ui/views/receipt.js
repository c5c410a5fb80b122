// A decision receipt dropped (or chosen) here is checked in this browser with the log's
// verifier key alone (receipt.js): nothing of it is sent to the server.

import { verifyReceipt } from "../receipt.js";
import { clear, h, note, section, view } from "../dom.js";
import { getPolicy } from "../session.js";

/** The largest receipt file read (as `stepwise receipt verify` reads). */
const MAX_RECEIPT_BYTES = 16 << 20;

async function receiptView(current) {
  document.title = "Check a receipt · stepwise";
  const policy = await getPolicy();
  if (!current()) return;
  const key = h("input", { id: "receipt-key", type: "text", spellcheck: "false", value: policy.verifier_key });
  const file = h("input", { id: "receipt-file", type: "file", accept: ".json,application/json" });
  const zone = h("div", { id: "receipt-drop", class: "drop", tabindex: "0" }, "Drop a receipt file here, or choose one: ", file);
  const summary = h("p", { id: "receipt-summary", class: "proof", "aria-live": "polite", dataset: { proof: "pending" } }, "No receipt yet.");
  const decision = h("dl", { class: "facts", id: "receipt-decision" });
  const checks = h("ol", { class: "checks", id: "receipt-checks" });
  clear(
    view,
    h("h1", {}, "Check a receipt"),
    note("A receipt (from `POST /v1/decide` with \"receipt\": true, or `stepwise decide --receipt`) holds a decision, the log's signature over it and a proof for every entry it rests on. It is checked here, in this browser, with the log's verifier key alone; nothing is sent."),
    section("The log's verifier key", h("label", { for: "receipt-key" }, "Verifier key (this server's, or paste another log's)"), key),
    section("The receipt", zone, summary, decision, checks),
  );
  const check = async (blob) => {
    if (blob.size > MAX_RECEIPT_BYTES) {
      show({ ok: false, checks: [{ name: "size", ok: false, words: `the file is ${blob.size} bytes; a receipt is at most ${MAX_RECEIPT_BYTES}` }] }, null);
      return;
    }
    let receipt;
    try {
      receipt = JSON.parse(await blob.text());
    } catch (e) {
      show({ ok: false, checks: [{ name: "json", ok: false, words: `the file is not JSON: ${e.message}` }] }, null);
      return;
    }
    show(await verifyReceipt(receipt, key.value), receipt.decision);
  };
  const show = (result, d) => {
    summary.dataset.proof = result.ok ? "verified" : "failed";
    summary.textContent = result.ok
      ? `Verified: ${d.subject} ${d.allowed ? "may" : "may not"} ${d.capability} at stake ${d.stake} (log size ${d.log_size}, at ${d.at}).`
      : `Not verified: ${result.checks.filter((c) => !c.ok).length} check(s) failed.`;
    clear(
      decision,
      d && typeof d === "object"
        ? ["subject", "capability", "stake", "allowed", "at", "log_size", "policy_entry"].flatMap((k) => [h("dt", {}, k), h("dd", {}, String(d[k]))])
        : [],
    );
    clear(
      checks,
      result.checks.map((c) =>
        h(
          "li",
          { class: c.ok ? "ok" : "bad", dataset: { check: c.name, proof: c.ok ? "verified" : "failed" } },
          h("span", { class: "mark", "aria-hidden": "true" }, c.ok ? "✓" : "✗"),
          h("strong", {}, c.ok ? " verified: " : " failed: "),
          c.words,
        ),
      ),
    );
  };
  file.addEventListener("change", () => file.files[0] && check(file.files[0]));
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const dropped = ev.dataTransfer && ev.dataTransfer.files[0];
    if (dropped) check(dropped);
  });
}

export { receiptView };
