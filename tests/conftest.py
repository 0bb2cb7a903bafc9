"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium skip when the service is
missing on a laptop, and fail under HUILIAO_REQUIRE_SERVICES=1 (CI)."""

import asyncio
import os
import shutil
import socket

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from history.live.registry import get_hub
from rooms.events import bind_server_loop
from tests.accounts.helpers import APPID, SECRET
from tests.factories import RoomFactory, StaffFactory, UserFactory, join
from tests.fake_wechat import running_fake_wechat
from tests.helpers import missing_service
from tests.servers import DaphnePool, RedisServer

# The test process leaves the garbage collector as CPython configures it (freezing would
# keep its cyclic garbage for the whole run); tests/live/test_collector.py turns it on. The
# servers the tests start run with it, as production does.
settings.HUILIAO_GC_FREEZE = False


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """With SQLite, the test database is a file rather than memory: the browser tests run a
    real Daphne in another process, which must open the same database."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)
    # The test process itself opens plain connections: its helper threads (asyncio.to_thread,
    # the concurrency tests' threads) use the ORM outside any request and never hand a
    # pooled connection back. The servers the tests start use the pool, as in production.
    database.get("OPTIONS", {}).pop("pool", None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with one addition at the end of the session: the
    worker threads of the websocket tests keep PostgreSQL connections open, which would
    stop the test database from being dropped; end them first."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def postgres():
    """The test database is PostgreSQL (DATABASE_URL points at a PostgreSQL server)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing_service("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis: REDIS_URL, or the default local server."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not _port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        missing_service(f"needs Redis at {parts.hostname}:{parts.port or 6379}")
    return url


@pytest.fixture
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        missing_service("needs Debian's chromium (apt-get install chromium)")
    return path


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs seconds per test on a busy machine; what is
    # tested here is who may do what, not the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    from django.core.cache import cache

    from history.services import check_breaker
    from rooms.content import content_rules_changed

    cache.clear()
    content_rules_changed()  # no matcher compiled in an earlier test survives its rules
    check_breaker.succeeded()  # nor WeChat's failures in an earlier test
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def room(db, user):
    return RoomFactory(owner=user)


@pytest.fixture
def member(room):
    return join(room).user


@pytest.fixture
def api():
    """An unauthenticated API client; `api_client_for(user)` gives an authenticated one."""
    return APIClient()


@pytest.fixture
def daphne_pool(tmp_path):
    """Daphne processes this test starts (tests.servers.DaphnePool), stopped after it."""
    pool = DaphnePool(tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def wechat(settings):
    """A running fake WeChat (tests.fake_wechat), with the WECHAT_* settings pointing at it."""
    with running_fake_wechat() as fake:
        settings.WECHAT_API_BASE = fake.base_url
        settings.WECHAT_APPID = APPID
        settings.WECHAT_SECRET = SECRET
        settings.WECHAT_TIMEOUT = 2.0
        yield fake


@pytest.fixture
async def live_hub():
    """Each test runs on its own event loop: close that loop's hub when the test ends, so
    no subscription or task outlives it."""
    yield
    await get_hub().close()
    await asyncio.sleep(0)
    # The application remembered this test's loop as "the server's"; the next test has
    # its own (this one stops, and publishing to a stopped loop is refused).
    bind_server_loop(None)
    # A server has one event loop for its life; tests have one each. channels-redis keeps
    # locks bound to the loop that first waited on them, so a layer shared across tests
    # fails in the next one ("bound to a different event loop"): start each test afresh.
    # (Its connections belong to loops that are gone; they are not closed from this one.)
    channel_layers.backends.clear()
    # The sync worker thread keeps its connection (CONN_MAX_AGE); let the test DB go.
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def own_redis():
    """A `redis-server` of this test's own, which it may kill (never the machine's)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("needs the redis-server program (to start a Redis it may kill)")
    server = RedisServer(binary)
    server.start()
    yield server
    server.kill()
