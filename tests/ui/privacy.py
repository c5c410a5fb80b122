"""The dashboard after a principal is forgotten (docs/PRIVACY.md): its entries still verify in
the browser on the leaf's own bytes, the principal shows as forgotten, and what was erased is
said. Called by check.py once the other views are checked."""

import datetime
import urllib.parse

from common import check


def forgotten(ctx, base, reader, admin, console, wait_js):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    rating = {"kind": "rating", "at": at, "rater": "user:forget-me", "subject": "otc:1", "value": 0.5, "note": "words to be erased"}
    status, answer = admin.post("/v1/events?history=true", rating)
    check(status == 201, "user:forget-me rates otc:1 with a note", answer)
    index = answer["results"][0]["index"]
    before = reader.get(f"/v1/events/{index}")
    check(before["opened"]["note"] == "words to be erased", "a reader sees the note opened", before)

    status, gone = admin.call("DELETE", "/v1/principals/user:forget-me")
    check(status == 200 and gone["pseudonym"], "DELETE /v1/principals/user:forget-me forgets it", gone)
    pseudonym = gone["pseudonym"]
    after = reader.get(f"/v1/events/{index}")
    check(after["bytes"] == before["bytes"] and after["erased"] == ["note"] and after["event"]["rater"] == pseudonym,
          "its entry's bytes are unchanged; the note is erased; the rater is its pseudonym", after)

    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/log/{index}#key={reader.key}")
    page.wait_for_selector("#proof-summary[data-proof=verified], #proof-summary[data-proof=failed]")
    check(page.get_attribute("#proof-summary", "data-proof") == "verified", f"entry {index} of a forgotten principal still verifies in the browser", page.inner_text("#checks"))
    shown = page.inner_text("#event")
    check("forgotten" in shown and "user:forget-me" not in shown and "words to be erased" not in shown, "the entry shows the rater as forgotten, without its id or note", shown)
    check("Erased: note" in page.inner_text("#view"), "the entry says its note was erased")
    page.goto(f"{base}/ui/principals/{urllib.parse.quote(pseudonym)}#key={reader.key}")
    wait_js(page, "document.querySelector('h1') && document.querySelector('h1').textContent.includes('forgotten')")
    check("forgotten" in page.inner_text("h1"), "the forgotten principal's page says so", page.inner_text("h1"))
    page.close()
