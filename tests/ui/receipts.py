"""The dashboard's Receipt view (run by check.py): a receipt from the API dropped in the page
and checked there with the log's key alone, then tampered with to see each failure named."""

import base64
import json

from common import check


def dropped(ctx, base, keys, reader, console, out):
    """A receipt from the API, checked in the page with the log's key alone; then with a bit
    changed in its decision, and in one proof's hash: each failure named."""
    status, rec = reader.post("/v1/decide", {"subject": "agent:bot", "capability": "act:low", "stake": 1, "receipt": True})
    check(status == 200 and rec["format"] == "stepwise-receipt/v1", "a receipt from POST /v1/decide", rec)
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/receipt#key={keys['reader']}")
    page.wait_for_selector("#receipt-drop")

    def checked(doc):
        page.evaluate("() => { document.getElementById('receipt-summary').dataset.proof = 'pending'; }")
        page.set_input_files("#receipt-file", files=[{"name": "receipt.json", "mimeType": "application/json", "buffer": json.dumps(doc).encode()}])
        page.wait_for_selector("#receipt-summary[data-proof=verified], #receipt-summary[data-proof=failed]")
        states = page.eval_on_selector_all("#receipt-checks li", "els => els.map(e => [e.dataset.check, e.dataset.proof])")
        return page.get_attribute("#receipt-summary", "data-proof"), dict(states)

    summary, states = checked(rec)
    proofs = [k for k in states if k.startswith("proof-")]
    check(summary == "verified" and all(v == "verified" for v in states.values()) and len(proofs) == len(rec["proofs"]) and "signed" in states and "entries" in states,
          f"receipt: verified in the page ({len(proofs)} proofs, the signature, the entries)", states)
    page.screenshot(path=str(out / "receipt.png"), full_page=True)
    flipped = json.loads(json.dumps(rec))
    flipped["decision"]["allowed"] = not rec["decision"]["allowed"]
    summary, states = checked(flipped)
    check(summary == "failed" and states.get("signed") == "failed" and all(states[k] == "verified" for k in proofs),
          "receipt with the verdict flipped: fails, naming the log's signature over the decision", states)
    tampered = json.loads(json.dumps(rec))
    lines = tampered["proofs"][0].split("\n")
    hash_line = 4 if len(lines) > 4 and lines[4] else 3
    raw = bytearray(base64.b64decode(lines[hash_line]))
    raw[0] ^= 1
    lines[hash_line] = base64.b64encode(bytes(raw)).decode()
    tampered["proofs"][0] = "\n".join(lines)
    summary, states = checked(tampered)
    check(summary == "failed" and states.get("proof-0") == "failed" and states.get("signed") == "verified",
          "receipt with a bit of a proof changed: fails, naming that proof", states)
    errors = console.take()
    check(not errors, "no console errors on the receipt page", errors)
    page.close()
