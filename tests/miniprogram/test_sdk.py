"""The mini-program SDK's own tests (`node --test miniprogram/test/`), run against a real
Daphne that the Node tests start, kill and restart themselves, on this run's test
database, with WeChat login answered by the fake WeChat."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import missing_service
from tests.servers import ROOT, UNTHROTTLED, server_env, wechat_env

pytestmark = pytest.mark.django_db(transaction=True)


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        missing_service("needs Node 20 (the mini-program's tests)")
    return node


def test_sdk_against_a_real_server(wechat, tmp_path):
    wechat.login_ok()
    env = server_env(**wechat_env(wechat), **UNTHROTTLED)
    if not env["DATABASE_URL"]:
        env.pop("REDIS_URL", None)
    output = tmp_path / "node-test.txt"
    with output.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [
                node_binary(),
                "--experimental-websocket",
                "--test",
                "miniprogram/test/sdk.test.js",
                "miniprogram/test/codes.test.js",
                "miniprogram/test/pages.test.js",
            ],
            cwd=ROOT,
            env=dict(
                os.environ,
                HUILIAO_PYTHON=sys.executable,
                HUILIAO_ROOT=str(ROOT),
                HUILIAO_SERVER_ENV=json.dumps(env),
                HUILIAO_LOG_DIR=str(tmp_path),
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            returncode = process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = "timed out"
    text = output.read_text(errors="replace")
    logs = "".join(path.read_text(errors="replace")[-3000:] for path in tmp_path.glob("*.log"))
    assert returncode == 0, text[-6000:] + logs
    assert "# fail 0" in text
