"""A webhook receiver for guildhall's tests: verifies every delivery with the reference
Standard Webhooks library (`standardwebhooks` from PyPI) and logs it.

Usage: python receiver.py  (prints the port it listens on, on 127.0.0.1, then serves)

  PUT  /secret/<name>   the body is the webhook's secret (whsec_...)
  POST /ok/<name>       verify: 204 when the signature verifies, 401 when it does not
  POST /flaky/<name>    500 on the first attempt of each webhook-id, then as /ok
  POST /fail/<name>     verify and log, then 500 always
  POST /hang/<name>     answer only after 30 seconds
  GET  /log             every delivery: name, mode, webhook-id, verified, error, body
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

secrets = {}
log = []
seen = set()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def answer(self, status, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/log":
            with lock:
                return self.answer(200, list(log))
        self.answer(404)

    def do_PUT(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "secret":
            with lock:
                secrets[parts[1]] = self.body().decode().strip()
            return self.answer(204)
        self.answer(404)

    def do_POST(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2:
            return self.answer(404)
        mode, name = parts
        body = self.body()
        if mode == "hang":
            time.sleep(30)
            return self.answer(204)
        headers = {k: v for k, v in self.headers.items()}
        entry = {"name": name, "mode": mode, "id": headers.get("webhook-id"), "verified": False, "error": None}
        try:
            with lock:
                secret = secrets[name]
            entry["body"] = Webhook(secret).verify(body, headers)
            entry["verified"] = True
        except (KeyError, WebhookVerificationError, ValueError) as error:
            entry["error"] = f"{type(error).__name__}: {error}"
        with lock:
            log.append(entry)
            first = (name, entry["id"]) not in seen
            seen.add((name, entry["id"]))
        if mode == "fail" or (mode == "flaky" and first):
            return self.answer(500, {"error": "failing on purpose"})
        self.answer(204 if entry["verified"] else 401)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
