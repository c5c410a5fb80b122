// In-browser checks of the stepwise log, with nothing but WebCrypto: leaf and node hashes, RFC 6962
// inclusion and consistency proofs (verified as RFC 9162 §2.1.3.2 and §2.1.4.2 say), and the
// log's checkpoint, a C2SP signed note signed with Ed25519 (docs/LOG.md). Every function here is
// pure: it is given bytes and answers whether they hold together, so the dashboard can show the
// result and the tests can feed it known-answer vectors.

const encoder = new TextEncoder();

/** A failed check, with words for people saying what did not hold. */
export class ProofError extends Error {}

// ---- bytes ----

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new ProofError(`not a hex string: ${String(hex).slice(0, 80)}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function b64ToBytes(text) {
  let bin;
  try {
    bin = atob(text);
  } catch {
    throw new ProofError(`not base64: ${String(text).slice(0, 80)}`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToB64(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// ---- hashes (RFC 6962 §2.1) ----

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256(0x00 ‖ entry bytes). */
export function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0), bytes));
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// Sizes and indexes stay below 2^53, so plain numbers are exact; the bit operators of JavaScript
// work on 32 bits, so halving and the lowest bit are written with arithmetic instead.
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

function powerOfTwo(n) {
  while (n > 1 && !odd(n)) n = half(n);
  return n === 1;
}

function checkHash(h, what) {
  if (!(h instanceof Uint8Array) || h.length !== 32) {
    throw new ProofError(`${what} is not a 32-byte SHA-256 hash (${h ? h.length : 0} bytes)`);
  }
}

function checkSize(n, what) {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError(`${what} is not a size: ${n}`);
}

// ---- inclusion (RFC 9162 §2.1.3.2) ----

/**
 * The root that an audit path leads to from leaf `index` of a tree of `size` entries; throws a
 * ProofError when the path cannot belong to such a tree (too long, too short, wrong shape).
 */
export async function rootFromInclusion(index, size, leaf, proof) {
  checkSize(index, "the leaf index");
  checkSize(size, "the tree size");
  if (index >= size) throw new ProofError(`leaf ${index} is not in a tree of ${size} entries`);
  checkHash(leaf, "the leaf hash");
  proof.forEach((p, i) => checkHash(p, `proof hash ${i + 1}`));
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new ProofError(`the audit path is longer than a tree of ${size} entries needs`);
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`the audit path is shorter than a tree of ${size} entries needs`);
  return r;
}

/** { ok, reason }: whether `leaf` is entry `index` of the tree of `size` entries with `root`. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  try {
    checkHash(root, "the root");
    const got = await rootFromInclusion(index, size, leaf, proof || []);
    if (!equalBytes(got, root)) {
      return {
        ok: false,
        reason: `the audit path leads to root ${bytesToHex(got)}, not to ${bytesToHex(root)}`,
      };
    }
    return { ok: true, reason: `entry ${index} is in the tree of ${size} entries with root ${bytesToHex(root)}` };
  } catch (e) {
    if (e instanceof ProofError) return { ok: false, reason: e.message };
    throw e;
  }
}

// ---- consistency (RFC 9162 §2.1.4.2) ----

/**
 * { ok, reason }: whether the tree of `size2` entries with `root2` extends the tree of `size1`
 * entries with `root1` (nothing in the first was changed or removed).
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  try {
    proof = proof || [];
    checkSize(size1, "the earlier size");
    checkSize(size2, "the later size");
    if (size1 > size2) throw new ProofError(`the earlier size ${size1} is larger than the later ${size2}`);
    if (size1 === 0) throw new ProofError("a proof from the empty tree proves nothing");
    if (size1 === size2) {
      if (proof.length !== 0) throw new ProofError("equal sizes need an empty proof");
      if (!equalBytes(root1, root2)) throw new ProofError(`two different roots for the same size ${size1}`);
      return { ok: true, reason: `both trees of ${size1} entries have the same root` };
    }
    if (proof.length === 0) throw new ProofError(`an empty proof cannot link ${size1} to ${size2} entries`);
    checkHash(root1, "the earlier root");
    checkHash(root2, "the later root");
    proof.forEach((p, i) => checkHash(p, `proof hash ${i + 1}`));
    // 2. When the earlier tree is a complete subtree, its root is the path's first node.
    const path = powerOfTwo(size1) ? [root1, ...proof] : proof;
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (odd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) throw new ProofError(`the proof is longer than ${size1} → ${size2} entries needs`);
      if (odd(fn) || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) throw new ProofError(`the proof is shorter than ${size1} → ${size2} entries needs`);
    if (!equalBytes(fr, root1)) {
      throw new ProofError(`the proof rebuilds the earlier root as ${bytesToHex(fr)}, not ${bytesToHex(root1)}`);
    }
    if (!equalBytes(sr, root2)) {
      throw new ProofError(`the proof rebuilds the later root as ${bytesToHex(sr)}, not ${bytesToHex(root2)}`);
    }
    return { ok: true, reason: `the tree of ${size2} entries extends the tree of ${size1} entries unchanged` };
  } catch (e) {
    if (e instanceof ProofError) return { ok: false, reason: e.message };
    throw e;
  }
}

// ---- checkpoints: C2SP signed notes with an Ed25519 key ----

/**
 * The parts of a checkpoint note: origin, size, root (bytes), the signed body (its first three
 * lines with their newlines) and its signatures [{ name, keyId, sig }]. Throws a ProofError when
 * the text is not a checkpoint.
 */
export function parseCheckpoint(text) {
  const split = text.indexOf("\n\n");
  if (split < 0) throw new ProofError("the checkpoint has no blank line before its signatures");
  const body = text.slice(0, split + 1);
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) throw new ProofError("the checkpoint body has fewer than 3 lines");
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new ProofError(`the checkpoint size is not a number: ${sizeText}`);
  const size = Number(sizeText);
  const root = b64ToBytes(rootText);
  checkHash(root, "the checkpoint root");
  const signatures = [];
  const rest = text.slice(split + 2);
  if (!rest.endsWith("\n")) throw new ProofError("the checkpoint's signature lines do not end with a newline");
  for (const line of rest.slice(0, -1).split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new ProofError(`not a signature line: ${line.slice(0, 80)}`);
    const blob = b64ToBytes(m[2]);
    if (blob.length < 5) throw new ProofError("a signature is too short");
    signatures.push({ name: m[1], keyId: blob.slice(0, 4), sig: blob.slice(4) });
  }
  if (signatures.length === 0) throw new ProofError("the checkpoint carries no signature");
  return { origin, size, root, body, signatures };
}

/** SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), first 4 bytes. */
export async function keyId(name, pub) {
  return (await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, 0x01), pub))).slice(0, 4);
}

/** `<name>+<hex key id>+<base64(0x01 ‖ public key)>` → { name, keyId, pub }; throws a ProofError. */
export async function parseVerifierKey(vkey) {
  // The name holds no "+", the id is hex; the base64 key may hold "+" itself.
  const m = /^([^+]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(String(vkey).trim());
  if (!m) throw new ProofError("the verifier key is not <name>+<8 hex digits>+<base64 key>");
  const [, name, idHex, keyText] = m;
  const id = hexToBytes(idHex);
  const blob = b64ToBytes(keyText);
  if (id.length !== 4) throw new ProofError("the verifier key's id is not 4 bytes");
  if (blob.length !== 33 || blob[0] !== 0x01) throw new ProofError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)");
  const pub = blob.slice(1);
  if (!equalBytes(await keyId(name, pub), id)) {
    throw new ProofError(`the verifier key's id ${idHex} is not the id of its name and public key`);
  }
  return { name, keyId: id, pub };
}

/**
 * { ok, reason, checkpoint }: whether the note is a checkpoint signed by the verifier key (its
 * name, its key id, an Ed25519 signature over the body).
 */
export async function verifyCheckpoint(text, vkey) {
  let checkpoint = null;
  try {
    checkpoint = parseCheckpoint(text);
    const key = await parseVerifierKey(vkey);
    if (checkpoint.origin !== key.name) {
      throw new ProofError(`the checkpoint's origin ${checkpoint.origin} is not the key's name ${key.name}`);
    }
    const sig = checkpoint.signatures.find((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
    if (!sig) throw new ProofError(`no signature by ${key.name} with key id ${bytesToHex(key.keyId)}`);
    if (sig.sig.length !== 64) throw new ProofError("the Ed25519 signature is not 64 bytes");
    const pubKey = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    const good = await crypto.subtle.verify("Ed25519", pubKey, sig.sig, encoder.encode(checkpoint.body));
    if (!good) throw new ProofError(`the Ed25519 signature by ${key.name} does not verify over the checkpoint`);
    return {
      ok: true,
      reason: `signed by ${key.name} (key id ${bytesToHex(key.keyId)}): ${checkpoint.size} entries, root ${bytesToHex(checkpoint.root)}`,
      checkpoint,
    };
  } catch (e) {
    if (e instanceof ProofError) return { ok: false, reason: e.message, checkpoint };
    if (e && e.name === "NotSupportedError") {
      return { ok: false, reason: "this browser cannot verify Ed25519 signatures", checkpoint };
    }
    throw e;
  }
}
