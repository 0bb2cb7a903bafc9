"""Websocket helpers: real ASGI application, real services, one hub per test loop."""

import pytest
from django.db import connections

from tests.servers import DaphneProcess, database_url, server_env


@pytest.fixture(autouse=True, scope="session")
def _no_persistent_connections():
    """The consumer's ORM work runs in pool threads, each with its own connection; with
    CONN_MAX_AGE they would outlive the tests and keep the test database from being
    dropped."""
    settings_dict = connections["default"].settings_dict
    before = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = before


@pytest.fixture(autouse=True)
def _hub_per_test(live_hub):
    """Every socket test gets its own hub (tests.conftest.live_hub)."""


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Factories hash a password per user; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- real Daphne processes ----------------------------------------------------------------


@pytest.fixture
def daphne(postgres, redis_url, daphne_pool, settings):
    """Start Daphne processes sharing the test database and Redis: `daphne("a")`."""
    settings.HUILIAO_POST_RATE_COUNT = 100_000  # these tests post faster than people do
    env = server_env(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        # The same prefix as this process, which posts through the services too.
        REDIS_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
    )

    def start(name: str, **overrides: str) -> DaphneProcess:
        return daphne_pool.start(name, dict(env, **overrides))

    return start
