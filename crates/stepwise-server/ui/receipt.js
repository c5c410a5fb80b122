// Decision receipts checked in the browser with the log's verifier key alone (docs/LOG.md,
// "Decision receipts"): the log's signature over the decision's canonical JSON, and each
// C2SP tlog-proof — the entry's bytes, its inclusion proof, the signed checkpoint it leads to.
// Pure: given a receipt and a key, it answers a list of named checks.

import * as verify from "./verify.js";

const encoder = new TextEncoder();
const FORMAT = "stepwise-receipt/v1";
const PROOF_HEADER = "c2sp.org/tlog-proof@v1";

/** RFC 8785 canonical JSON: keys sorted by UTF-16 code units, ECMAScript number and string forms. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A C2SP tlog-proof's parts: { extra (bytes), index, hashes, checkpoint (text) }; throws a ProofError. */
export function parseTlogProof(text) {
  const split = String(text).indexOf("\n\n");
  if (split < 0) throw new verify.ProofError("no empty line before the checkpoint");
  const lines = text.slice(0, split).split("\n");
  if (lines[0] !== PROOF_HEADER) throw new verify.ProofError(`the first line is not ${PROOF_HEADER}`);
  const extra = /^extra (.*)$/.exec(lines[1] || "");
  if (!extra) throw new verify.ProofError("no `extra` line with the entry's bytes");
  const index = /^index (0|[1-9][0-9]*)$/.exec(lines[2] || "");
  if (!index) throw new verify.ProofError("no `index` line with a decimal index");
  const hashes = lines.slice(3).map((l) => {
    const hash = verify.b64ToBytes(l);
    if (hash.length !== 32) throw new verify.ProofError("a proof line is not a base64 SHA-256");
    return hash;
  });
  return { extra: verify.b64ToBytes(extra[1]), index: Number(index[1]), hashes, checkpoint: text.slice(split + 2) };
}

/** Whether `note` is a signed note whose text the key signed: { ok, reason, text }. */
async function verifyNote(note, vkey) {
  try {
    const key = await verify.parseVerifierKey(vkey);
    const split = note.indexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) throw new verify.ProofError("it is not a signed note");
    const text = note.slice(0, split + 1);
    const ours = note
      .slice(split + 2, -1)
      .split("\n")
      .map((line) => /^\u2014 (\S+) (\S+)$/.exec(line))
      .filter((m) => m && m[1] === key.name)
      .map((m) => verify.b64ToBytes(m[2]))
      .filter((blob) => blob.length === 68 && verify.equalBytes(blob.slice(0, 4), key.keyId));
    if (ours.length === 0) throw new verify.ProofError(`no signature by ${key.name}`);
    const pub = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    for (const blob of ours) {
      if (!(await crypto.subtle.verify("Ed25519", pub, blob.slice(4), encoder.encode(text)))) {
        throw new verify.ProofError(`the signature by ${key.name} does not verify`);
      }
    }
    return { ok: true, text };
  } catch (e) {
    if (e instanceof verify.ProofError) return { ok: false, reason: e.message };
    throw e;
  }
}

/** The entries a decision rests on: its policy entry, then its evidence. */
export function restingOn(decision) {
  const out = Number.isInteger(decision.policy_entry) ? [decision.policy_entry] : [];
  return out.concat((decision.evidence || []).filter(Number.isInteger));
}

/**
 * Checks a receipt (parsed JSON) against the log's verifier key. Returns { ok, checks: [{ name,
 * ok, words }] }: every check is run, each failure named.
 */
export async function verifyReceipt(receipt, vkey) {
  const checks = [];
  const check = (name, ok, words) => checks.push({ name, ok, words });
  if (!receipt || typeof receipt !== "object" || !receipt.decision || !Array.isArray(receipt.proofs)) {
    check("format", false, "this is not a receipt (no decision and proofs)");
    return { ok: false, checks };
  }
  const d = receipt.decision;
  check("format", receipt.format === FORMAT, receipt.format === FORMAT ? `format ${FORMAT}` : `format ${receipt.format} is not ${FORMAT}`);
  const signed = await verifyNote(String(receipt.signed || ""), vkey);
  // With replay data, the pseudonyms of the principals involved are signed too.
  const names = receipt.replay ? `${canonicalJson(receipt.replay.pseudonyms)}\n` : "";
  const expected = `${FORMAT}\n${canonicalJson(d)}\n${names}`;
  if (!signed.ok) check("signed", false, `the log's signature over the decision: ${signed.reason}`);
  else if (signed.text !== expected) check("signed", false, "the decision is not the one the log's key signed");
  else check("signed", true, "the log's key signed this decision (its canonical JSON)");
  const wanted = restingOn(d);
  const proved = [];
  let policyEntry = null;
  for (const [k, text] of receipt.proofs.entries()) {
    let proof;
    try {
      proof = parseTlogProof(String(text));
    } catch (e) {
      if (!(e instanceof verify.ProofError)) throw e;
      check(`proof-${k}`, false, `proof ${k}: ${e.message}`);
      continue;
    }
    proved.push(proof.index);
    if (receipt.replay && proof.index === d.policy_entry) policyEntry = proof.extra;
    const what = `entry ${proof.index}`;
    const cp = await verify.verifyCheckpoint(proof.checkpoint, vkey);
    if (!cp.ok) {
      check(`proof-${k}`, false, `${what}: its checkpoint: ${cp.reason}`);
      continue;
    }
    const leaf = await verify.leafHash(proof.extra);
    const inc = await verify.verifyInclusion(proof.index, cp.checkpoint.size, leaf, proof.hashes, cp.checkpoint.root);
    const within = Number.isInteger(d.log_size) && proof.index < d.log_size;
    const ok = inc.ok && within;
    check(
      `proof-${k}`,
      ok,
      !inc.ok
        ? `${what}: not in the signed tree of ${cp.checkpoint.size}: ${inc.reason}`
        : !within
          ? `${what}: beyond the decision's log size ${d.log_size}`
          : `${what} is leaf ${proof.index} of the signed tree of ${cp.checkpoint.size} entries`,
    );
  }
  if (receipt.replay) {
    let recorded = null;
    try {
      recorded = JSON.parse(new TextDecoder().decode(policyEntry || new Uint8Array())).sha256;
    } catch {
      recorded = null;
    }
    const sha = verify.bytesToHex(await verify.sha256(encoder.encode(String(receipt.replay.policy))));
    check("policy", sha === recorded, sha === recorded ? `the policy text is the one entry ${d.policy_entry} records (SHA-256 ${sha.slice(0, 16)}…)` : `the policy text hashes to ${sha}, not to what entry ${d.policy_entry} records`);
  }
  const same = proved.length === wanted.length && proved.every((i, k) => i === wanted[k]);
  check("entries", same, same ? `the proofs are the entries the decision rests on: ${wanted.join(", ")}` : `the proofs prove entries ${proved.join(", ")}; the decision rests on ${wanted.join(", ")}`);
  return { ok: checks.every((c) => c.ok), checks };
}
