"""Catch every SMTP message into /mail (one .eml each) and list them over HTTP as JSON."""
import email
import email.policy
import itertools
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

MAIL = Path(os.environ.get("MAIL_DIR", "/mail"))
counter = itertools.count(len(list(MAIL.glob("*.eml"))) + 1)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        name = MAIL / f"{time.time_ns()}-{next(counter):05d}.eml"
        tmp = name.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(name)  # readers never see half a message
        print(f"caught {name.name} from {envelope.mail_from} to {envelope.rcpt_tos}", flush=True)
        return "250 Message accepted for delivery"


class Web(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path in ("/messages", "/messages/"):
            items = []
            for p in sorted(MAIL.glob("*.eml")):
                m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                items.append({"id": p.name, "to": m["To"], "subject": m["Subject"]})
            body, ctype = json.dumps(items).encode(), "application/json"
        elif self.path.startswith("/messages/") and (MAIL / self.path[10:]).is_file() and "/" not in self.path[10:]:
            body, ctype = (MAIL / self.path[10:]).read_bytes(), "message/rfc822"
        elif self.path == "/healthz":
            body, ctype = b"ok", "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    MAIL.mkdir(parents=True, exist_ok=True)
    controller = Controller(Handler(), hostname="0.0.0.0", port=int(os.environ.get("SMTP_PORT", 1025)))
    controller.start()
    print(f"SMTP on :{controller.port}, HTTP on :8025, mail in {MAIL}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("HTTP_PORT", 8025))), Web).serve_forever()
