"""deploy/nginx.conf, as it is, in front of two Daphne processes on PostgreSQL and Redis:
chat across processes, the client address throttles see, static files and their cache
headers, and the body limit answering with the API's JSON."""

import asyncio
import json
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from accounts.services import token_for
from tests.factories import RoomFactory, join
from tests.helpers import missing_service
from tests.servers import ROOT, database_url, free_port, server_env, wait_for_port

pytestmark = [pytest.mark.django_db(transaction=True)]

SITE = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        missing_service("needs Debian's nginx (apt-get install nginx)")
    return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 (fixed arguments)
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def render_site(directory: Path, *, ports: list[int], http: int, https: int, static: Path) -> Path:
    """The shipped file with only its CHANGE lines (and the listen ports) made local."""
    cert, key = self_signed(directory)
    text = SITE.read_text()
    upstreams = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    text = re.sub(r"(    server 127\.0\.0\.1:800\d;.*\n)+", upstreams, text)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    text = re.sub(r"    listen \[::\]:\d+.*\n", "", text)
    text = text.replace("chat.example.com;", "localhost;")
    text = text.replace("/etc/letsencrypt/live/chat.example.com/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/chat.example.com/privkey.pem", str(key))
    text = text.replace("/srv/huiliao/static/", f"{static}/")
    text = text.replace("/srv/huiliao/media/", f"{directory / 'media'}/")
    text = text.replace("/var/www/acme", str(directory / "acme"))
    site = directory / "huiliao.conf"
    site.write_text(text)
    return site


def main_conf(directory: Path, site: Path) -> Path:
    temp = directory / "temp"
    temp.mkdir()
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""
user root;
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""
    )
    return conf


@pytest.fixture
def stack(postgres, redis_url, daphne_pool, tmp_path, settings):
    nginx = nginx_binary()
    static = tmp_path / "static"
    env = server_env(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"nginx{free_port()}",
        DEBUG="0",
        SECRET_KEY="nginx-test-" + "x" * 40,
        ALLOWED_HOSTS="localhost,127.0.0.1",
        SECURE_COOKIES="0",
        STATIC_ROOT=str(static),
        HUILIAO_NUM_PROXIES="1",
        HUILIAO_FAILED_LOOKUP_LIMIT="3",
        LOG_LEVEL="WARNING",
    )
    subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    daphnes = [daphne_pool.start(name, env) for name in ("a", "b")]
    http, https = free_port(), free_port()
    site = render_site(
        tmp_path, ports=[d.port for d in daphnes], http=http, https=https, static=static
    )
    conf = main_conf(tmp_path, site)
    checked = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)  # noqa: S603
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx, "-c", str(conf)], stderr=subprocess.PIPE)  # noqa: S603
    try:
        wait_for_port(https, process, timeout=15, what="nginx")
        yield {"base": f"https://localhost:{https}", "http": http, "daphnes": daphnes}
    finally:
        process.terminate()
        process.wait(timeout=10)


def client() -> httpx.Client:
    return httpx.Client(verify=False, timeout=15)  # noqa: S501 (the test's own certificate)


def sockets_open(daphne) -> float:
    """huiliao_sockets_open summed, read from one process's /metrics (per process)."""
    text = httpx.get(f"{daphne.http_base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("huiliao_sockets_open{")
    )


def test_the_shipped_nginx_conf_in_front_of_two_processes(stack):
    room = RoomFactory(name="Main hall")
    ann, bob = join(room, display_name="Ann"), join(room, display_name="Bob")
    tokens = [token_for(user=ann.user), token_for(user=bob.user)]
    base, daphnes = stack["base"], stack["daphnes"]
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE

    async def chat():
        url = base.replace("https", "wss") + f"/ws/rooms/{room.code}/"
        first = await websockets.connect(
            url, ssl=insecure, additional_headers={"Authorization": f"Token {tokens[0]}"}
        )
        assert json.loads(await first.recv())["type"] == "hello"
        second = await websockets.connect(
            url, ssl=insecure, additional_headers={"Authorization": f"Token {tokens[1]}"}
        )
        assert json.loads(await second.recv())["type"] == "hello"
        # least_conn put them on different processes: each has one socket open.
        counts = [await asyncio.to_thread(sockets_open, daphne) for daphne in daphnes]
        await first.send(
            json.dumps({"type": "send", "body": "across processes", "client_id": "x1"})
        )
        while True:
            frame = json.loads(await asyncio.wait_for(second.recv(), 15))
            if frame["type"] == "message" and frame["message"]["kind"] == "text":
                break
        await first.close()
        await second.close()
        return counts, frame

    counts, frame = asyncio.run(chat())
    assert counts == [1, 1]
    assert frame["message"]["body"] == "across processes"

    with client() as http:
        # Plain HTTP moves to HTTPS.
        moved = http.get(f"http://127.0.0.1:{stack['http']}/", headers={"Host": "localhost"})
        assert (moved.status_code, moved.headers["location"]) == (301, "https://localhost/")
        # The address throttles see is the client's, whatever X-Forwarded-For it forges:
        # three unknown codes from "three addresses" spend one budget of three.
        guesses = [
            http.get(
                f"{base}/api/v1/rooms/ZZZZZZZ{n}",
                headers={"Authorization": f"Token {tokens[0]}", "X-Forwarded-For": f"10.0.0.{n}"},
            ).json()["code"]
            for n in range(2, 6)
        ]
        assert guesses == ["room_not_found"] * 3 + ["too_many_guesses"]
        # Static files come from nginx, hashed and cached for a year.
        page = http.get(f"{base}/").text
        css = re.search(r'href="(/static/huiliao/huiliao\.[0-9a-f]+\.css)"', page).group(1)
        static = http.get(base + css)
        assert static.status_code == 200
        assert static.headers["cache-control"] == "max-age=31536000, public, immutable"
        assert "expires" in static.headers
        assert "server" in static.headers and "nginx" in static.headers["server"]
        # A body over the limit is refused at the door, in the API's error shape.
        huge = http.post(
            f"{base}/api/v1/rooms/{room.code}/messages",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"Authorization": f"Token {tokens[0]}", "Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.json() == {
            "detail": "The request body is too large.",
            "code": "request_too_large",
        }
        # /metrics is per process, never through the site.
        assert http.get(f"{base}/metrics").status_code == 404
