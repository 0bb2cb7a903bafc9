"""`DATABASE_URL=sqlite:///…` behaves like the embedded default: concurrent writers queue
on the write lock instead of failing with "database is locked". A real Daphne on its own
SQLite file (not the test database), driven over HTTP by concurrent guests."""

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from tests.servers import ROOT, DaphneProcess

MAKE_ROOM = """
import django
django.setup()
from tests.factories import RoomFactory
print(RoomFactory().code)
"""


def run_python(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def sqlite_url_server(tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'by-url.sqlite3'}",
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        HUILIAO_POST_RATE_COUNT="100000",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    run_python(["manage.py", "migrate", "--noinput"], env)
    code = run_python(["-c", MAKE_ROOM], env)
    server = DaphneProcess(env, tmp_path, "sqlite-url")
    server.start()
    yield server, code
    server.stop()


async def test_concurrent_enters_and_posts_on_a_sqlite_url(sqlite_url_server):
    server, code = sqlite_url_server
    async with httpx.AsyncClient(base_url=server.http_base, timeout=60) as http:
        guests = await asyncio.gather(
            *(http.post("/api/v1/auth/guest", json={"nickname": f"G{n}"}) for n in range(10))
        )
        assert [response.status_code for response in guests] == [201] * 10
        headers = [{"Authorization": f"Token {r.json()['token']}"} for r in guests]

        enters = await asyncio.gather(
            *(
                http.post(f"/api/v1/rooms/{code}/enter", json={}, headers=header)
                for header in headers
            )
        )
        assert {response.status_code for response in enters} == {200}, [
            response.text for response in enters if response.status_code != 200
        ]

        async def post_five(n: int, header: dict) -> list[int]:
            statuses = []
            for m in range(5):
                response = await http.post(
                    f"/api/v1/rooms/{code}/messages",
                    json={"body": f"{n}-{m}", "client_id": f"{n}-{m}"},
                    headers=header,
                )
                statuses.append(response.status_code)
            return statuses

        posted = await asyncio.gather(*(post_five(n, h) for n, h in enumerate(headers)))
        assert posted == [[201] * 5] * 10
        page = await http.get(
            f"/api/v1/rooms/{code}/messages?after=0&limit=100", headers=headers[0]
        )
        bodies = {item["body"] for item in page.json()["results"] if item["kind"] == "text"}
        assert bodies == {f"{n}-{m}" for n in range(10) for m in range(5)}
    assert "database is locked" not in server.log()
