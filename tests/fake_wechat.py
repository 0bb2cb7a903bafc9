"""A fake WeChat: a real HTTP server on 127.0.0.1 that speaks WeChat's `jscode2session`, so the real
httpx client code runs end to end. Each test tells it what to answer next."""

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

    def respond(self, answer=None, *, status: int = 200, delay: float = 0.0) -> None:
        self.answer, self.status, self.delay = answer, status, delay

    def login_ok(self, openid: str = OPENID) -> None:
        self.respond({"openid": openid, "session_key": "tiihtNczf5v6AKRyjwEUhQ=="})


def _handler(fake: FakeWechat):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            fake.requests.append({"path": parts.path, "query": parse_qs(parts.query)})
            if fake.delay:
                time.sleep(fake.delay)
            body = (
                fake.answer if isinstance(fake.answer, bytes) else json.dumps(fake.answer).encode()
            )
            try:
                self.send_response(fake.status)
                # WeChat really answers JSON as text/plain.
                self.send_header("Content-Type", "text/plain")
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
