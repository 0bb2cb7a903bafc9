"""A fake WeChat: a real HTTP server on 127.0.0.1 that speaks WeChat's `jscode2session`
(GET, answering `answer`), `cgi-bin/stable_token` and `wxa/getwxacodeunlimit` (POST,
answering what `queue(path, …)` lined up, else a fresh token / a PNG), so the real httpx
client code runs end to end. Each test tells it what to answer next."""

import io
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.accounts.helpers import OPENID


@dataclass
class FakeWechat:
    base_url: str = ""
    # What the next requests get: a JSON-able object or raw bytes, after `delay` seconds.
    answer: object = field(default_factory=lambda: {"openid": OPENID, "session_key": "sk=="})
    status: int = 200
    delay: float = 0.0
    requests: list = field(default_factory=list)
    # path -> answers (JSON-able or bytes, status) for the next POSTs to it, in order.
    queued: dict = field(default_factory=dict)
    tokens_issued: int = 0
    # path -> seconds every POST to it waits before answering (a slow WeChat).
    post_delays: dict = field(default_factory=dict)

    def queue(self, path: str, answer, *, status: int = 200) -> None:
        self.queued.setdefault(path, []).append((answer, status))

    def posts(self, path: str) -> list:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]

    def post_answer(self, path: str):
        if self.queued.get(path):
            return self.queued[path].pop(0)
        if path == "/cgi-bin/stable_token":
            self.tokens_issued += 1
            return {"access_token": f"TOKEN-{self.tokens_issued}", "expires_in": 7200}, 200
        if path == "/wxa/getwxacodeunlimit":
            return tiny_png(), 200
        if path == "/wxa/msg_sec_check":
            return sec_check_answer("pass"), 200
        return {"errcode": 40066, "errmsg": "invalid url"}, 200

    def respond(self, answer=None, *, status: int = 200, delay: float = 0.0) -> None:
        self.answer, self.status, self.delay = answer, status, delay

    def login_ok(self, openid: str = OPENID) -> None:
        self.respond({"openid": openid, "session_key": "tiihtNczf5v6AKRyjwEUhQ=="})


def sec_check_answer(suggest: str, *, errcode: int = 0) -> dict:
    """msg_sec_check v2's answer (trace_id and detail as WeChat sends them)."""
    label = {"pass": 100, "review": 20001, "risky": 20002}.get(suggest, 100)
    return {
        "errcode": errcode,
        "errmsg": "ok" if not errcode else "error",
        "result": {"suggest": suggest, "label": label},
        "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}],
        "trace_id": "60ae120f-371d5872-7941a05b",
    }


def tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def _handler(fake: FakeWechat):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            fake.requests.append(
                {"method": "GET", "path": parts.path, "query": parse_qs(parts.query)}
            )
            if fake.delay:
                time.sleep(fake.delay)
            self._answer(fake.answer, fake.status)

        def do_POST(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            fake.requests.append(
                {"method": "POST", "path": parts.path, "query": parse_qs(parts.query), "json": body}
            )
            if fake.post_delays.get(parts.path):
                time.sleep(fake.post_delays[parts.path])
            self._answer(*fake.post_answer(parts.path))

        def _answer(self, answer, status):
            png = isinstance(answer, bytes) and answer.startswith(b"\x89PNG")
            body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            try:
                self.send_response(status)
                # WeChat really answers JSON as text/plain; images as image/jpeg or png.
                self.send_header("Content-Type", "image/png" if png else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format, *args):
            pass

    return Handler


@contextmanager
def running_fake_wechat():
    """A FakeWechat answering on a free loopback port until the block ends."""
    fake = FakeWechat()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    # A short poll interval keeps shutdown() (once per test) from waiting half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
