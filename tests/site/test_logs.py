"""Logs: one line per event, JSON on request, and no line that names a person."""

import json
import logging
import os
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async

from tests.accounts.helpers import OPENID
from tests.factories import RoomFactory
from tests.live.helpers import open_member_socket, receive
from tests.servers import ROOT

SNIPPET = (
    "import django, logging; django.setup(); "
    "logging.getLogger('django.request').warning('Not Found: /r/XXXXXXXX/'); "
    "logging.getLogger('history.live').error('room %s: hub error', 'ABCD2345')"
)


def run_logging(log_format: str) -> list[str]:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        LOG_FORMAT=log_format,
        DATABASE_URL="",
        REDIS_URL="",
    )
    done = subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "-c", SNIPPET], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_each_event_is_one_line():
    lines = run_logging("plain")
    assert len(lines) == 2, lines
    assert lines[0].endswith("WARNING django.request Not Found: /r/XXXXXXXX/")


def test_log_format_json_gives_one_object_per_line():
    records = [json.loads(line) for line in run_logging("json")]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("WARNING", "django.request", "Not Found: /r/XXXXXXXX/"),
        ("ERROR", "history.live", "room ABCD2345: hub error"),
    ]
    assert all("time" in record for record in records)


@pytest.mark.django_db(transaction=True)
async def test_a_whole_chat_session_logs_no_person(caplog, wechat, live_hub):
    """Log in with WeChat and as a guest, enter, rename, post over REST and the socket,
    get refused and throttled: nothing logged names the nickname, the display name, the
    token, the openid or a message's body."""
    from rest_framework.test import APIClient

    caplog.set_level(logging.INFO)
    wechat.login_ok()
    secrets = {
        "nickname": "Nicola Secretnick",
        "display": "Dana Secretname",
        "body": "the-body-secret-7731",
        "openid": OPENID,
    }

    def session() -> tuple[str, str, object]:
        room = RoomFactory()
        phone = APIClient()
        login = phone.post(
            "/api/v1/auth/wechat",
            {"code": "0a3b", "nickname": secrets["nickname"]},
            format="json",
        ).json()
        token = login["token"]
        phone.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        url = f"/api/v1/rooms/{room.code}"
        phone.post(f"{url}/enter", {"display_name": secrets["display"]}, format="json")
        phone.post(f"{url}/messages", {"body": secrets["body"], "client_id": "c1"}, format="json")
        phone.post(
            f"{url}/messages", {"body": secrets["body"] * 400, "client_id": "c2"}, format="json"
        )
        phone.get("/api/v1/rooms/ZZZZZZZZ")
        APIClient().post("/api/v1/auth/guest", {"nickname": secrets["nickname"]}, format="json")
        from accounts.models import User

        return room.code, token, User.objects.get(openid=OPENID)

    code, token, user = await database_sync_to_async(session)()
    secrets["token"] = token
    socket, _ = await open_member_socket(code, user)
    await socket.send_json_to({"type": "send", "body": secrets["body"] + "-ws", "client_id": "w1"})
    assert (await receive(socket))["type"] == "message"
    await socket.send_json_to({"type": "send", "body": "", "client_id": "w2"})
    assert (await receive(socket))["type"] == "error"
    await socket.disconnect()

    logged = "\n".join(
        record.getMessage() + (caplog.handler.format(record) if record.exc_info else "")
        for record in caplog.records
    )
    assert caplog.records, "the session logged nothing at all: the check would prove nothing"
    for what, secret in secrets.items():
        assert secret not in logged, f"a log line names the {what}"
