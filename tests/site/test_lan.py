"""`make run-lan`: phones on the venue's network scan a QR code that holds this machine's
network address, and the server accepts that host."""

import io
import subprocess
import sys

import httpx
import pytest
import zxingcpp
from PIL import Image

from huiliao_site.lan import lan_address, lan_env
from tests.factories import RoomFactory
from tests.helpers import run_command
from tests.servers import ROOT, DaphneProcess, server_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_lan_address_is_an_ipv4_address():
    address = lan_address()
    parts = address.split(".")
    assert len(parts) == 4 and all(part.isdigit() and 0 <= int(part) <= 255 for part in parts)


def test_the_make_target_prints_the_settings_it_runs_with():
    done = subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "-m", "huiliao_site.lan", "8000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    address = lan_address()
    assert done.stdout.splitlines() == [
        f"ALLOWED_HOSTS={address},localhost,127.0.0.1",
        f"HUILIAO_PUBLIC_URL=http://{address}:8000",
        f"CSRF_TRUSTED_ORIGINS=http://{address}:8000",
    ]


def test_served_that_way_the_qr_code_holds_the_lan_url(tmp_path):
    from accounts.services import token_for

    address = lan_address()
    room = RoomFactory()
    token = token_for(user=room.owner)
    server = DaphneProcess({}, tmp_path, "lan")
    server.env = server_env(DEBUG="1", REDIS_URL="", **lan_env(server.port, address))
    server.start()
    try:
        headers = {"Authorization": f"Token {token}", "Host": f"{address}:{server.port}"}
        page = httpx.get(f"{server.http_base}/r/{room.code}/", headers=headers, timeout=10)
        assert page.status_code == 200  # the LAN host is allowed
        png = httpx.get(
            f"{server.http_base}/api/v1/rooms/{room.code}/qrcode.png", headers=headers, timeout=10
        ).content
        (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        assert code.text == f"http://{address}:{server.port}/r/{room.code}/"
    finally:
        server.kill()


def test_demo_prints_the_url_phones_open(settings):
    from tests.organisers import organisers_group

    organisers_group()  # transactional tests empty the tables the migration filled
    settings.HUILIAO_PUBLIC_URL = "http://192.168.1.20:8000"
    out = run_command("demo")
    assert "join URL: http://192.168.1.20:8000/r/" in out
    assert "phones on this network open: http://192.168.1.20:8000/" in out
