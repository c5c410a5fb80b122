// One log entry, with its inclusion proof and the signed checkpoint verified in the browser
// (verify.js), and the checkpoint's consistency with an earlier one.

import * as verify from "../verify.js";
import { clear, entryHref, entryLink, h, int, note, principalLink, section, view } from "../dom.js";
import { api, errorText, getPolicy } from "../session.js";

const SEEN_STORE = "stepwise.checkpoint"; // the last checkpoint this browser verified
// ---------------------------------------------------------------------------------------------
// A log entry and its proofs

const PRINCIPAL_FIELDS = ["author", "promisor", "promisee", "subject", "voucher", "rater", "reporter", "principal"];

async function entryView(indexText, current) {
  const index = Number(indexText);
  document.title = `Entry ${index} · stepwise`;
  const entry = await api(`/v1/events/${index}`);
  if (!current()) return;
  // Opened where its openings are kept (format 3): the note, signature and promise id its
  // commitments hide; the proof below checks the leaf's own bytes either way.
  const ev = entry.opened || entry.event || {};
  const erased = entry.erased || [];
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
    h(
      "div",
      { class: "grid" },
      section(
        "Event",
        h("dl", { class: "facts", id: "event" }, fields),
        erased.length ? note(`Erased: ${erased.join(", ")} (a principal it names was forgotten; the leaf and its proof are unchanged).`) : null,
      ),
      section("Verification in this browser", overall, checks),
    ),
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

export { entryView };
