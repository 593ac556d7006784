"""deploy/smoke.sh's visitor: drives the stack from inside the web container (stdlib only).

  python - subscribe ADDRESS     GET / for the CSRF token, POST /subscribe, read the confirmation
                                 mail from the catcher, GET the link, POST the confirm form
  python - count ADDRESS         print how many digests (mails that are not the confirmation) reached ADDRESS
Environment: WEB (default http://127.0.0.1:8000), CATCHER (default http://mailpit:8025): Mailpit's
API (/api/v1/messages) or the stand-in catcher's (/messages, deploy/standins/mailcatcher).
"""

import email
import email.policy
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

WEB = os.environ.get("WEB", "http://127.0.0.1:8000")
CATCHER = os.environ.get("CATCHER", "http://mailpit:8025")
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(url):
    with opener.open(url, timeout=30) as r:
        return r.status, r.read().decode()


def post(url, data):
    body = urllib.parse.urlencode(data, doseq=True).encode()
    with opener.open(urllib.request.Request(url, data=body), timeout=30) as r:
        return r.status, r.read().decode()


def csrf(page):
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not m:
        sys.exit("no csrf_token in the page")
    return m.group(1)


def raw_mails():
    """(recipients, raw message) of every caught message, from Mailpit or the stand-in."""
    try:
        _, listing = get(f"{CATCHER}/api/v1/messages?limit=500")
    except urllib.error.HTTPError:
        _, listing = get(f"{CATCHER}/messages")  # the stand-in catcher
        for item in json.loads(listing):
            yield item["to"] or "", get(f"{CATCHER}/messages/{item['id']}")[1]
        return
    for item in json.loads(listing)["messages"]:
        to = " ".join(a["Address"] for a in item.get("To") or [])
        yield to, get(f"{CATCHER}/api/v1/message/{item['ID']}/raw")[1]


def mails_to(address):
    return [
        email.message_from_string(raw, policy=email.policy.default)
        for to, raw in raw_mails()
        if address in to
    ]


def is_confirmation(m):
    return "/confirm/" in text_of(m)


def text_of(m):
    part = m.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part else ""


def subscribe(address):
    _, page = get(f"{WEB}/")
    status, page = post(
        f"{WEB}/subscribe",
        {
            "email": address,
            "topic": ["reinforcement learning", "language models"],
            "timezone": "UTC",
            "hour": "7",
            "cadence": "daily",
            "csrf_token": csrf(page),
        },
    )
    print(f"POST /subscribe: {status}")
    deadline = time.time() + 60
    while time.time() < deadline:
        confirmations = [m for m in mails_to(address) if is_confirmation(m)]
        if confirmations:
            break
        time.sleep(1)
    else:
        sys.exit("no confirmation mail within 60 s")
    link = re.search(r"https?://\S+?/confirm/[A-Za-z0-9._~-]+", text_of(confirmations[0])).group(0)
    path = urllib.parse.urlsplit(
        link
    ).path  # PAPERBOY_BASE_URL is the public URL; ask the server directly
    print(f"confirmation mail: {confirmations[0]['Subject']!r} -> {path[:40]}...")
    _, page = get(f"{WEB}{path}")
    status, page = post(f"{WEB}{path}", {"csrf_token": csrf(page)})
    print(f"POST {path[:20]}...: {status}")
    if "/manage/" not in page:
        sys.exit("the confirm answer has no manage link: not confirmed")


def count(address):
    digests = [m for m in mails_to(address) if not is_confirmation(m)]
    for m in digests:
        print(f"digest: {m['Subject']!r}", file=sys.stderr)
    print(len(digests))


if __name__ == "__main__":
    {"subscribe": subscribe, "count": count}[sys.argv[1]](sys.argv[2])
