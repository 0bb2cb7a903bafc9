"""Settings from the environment, each case in a fresh interpreter with a controlled env."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Everything settings.py reads; each run starts from none of them.
SETTINGS_ENV = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DB_POOL_MAX",
    "DB_POOL_TIMEOUT",
    "SQLITE_PATH",
    "REDIS_URL",
    "REDIS_PREFIX",
    "REDIS_MAX_CONNECTIONS",
    "TIME_ZONE",
    "STATIC_ROOT",
    "MEDIA_URL",
    "MEDIA_ROOT",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "HUILIAO_LOGIN_RATE",
    "HUILIAO_ROOM_CREATE_RATE",
    "HUILIAO_NUM_PROXIES",
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHAT_API_BASE",
    "WECHAT_TIMEOUT",
    "LOG_LEVEL",
    "HUILIAO_SERVE_MEDIA",
}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-key",
    "ALLOWED_HOSTS": "chat.example.com",
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in SETTINGS_ENV and not k.startswith("DJANGO_")
    }
    clean["DJANGO_SETTINGS_MODULE"] = "huiliao_site.settings"
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def django(code: str, **env: str):
    """Set Django up, run `code` (which assigns `out`), return `out` from JSON."""
    result = run(
        ["-c", f"import django, json\ndjango.setup()\n{code}\nprint(json.dumps(out))"], **env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def fails_with(code_or_args, **env: str) -> str:
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    result = run(args, **env)
    assert result.returncode != 0
    return result.stderr


@pytest.mark.parametrize(
    "args",
    [["-c", "import django; django.setup()"], ["manage.py", "check"]],
    ids=["setup", "check"],
)
def test_settings_production_without_secret_key_stops(args):
    stderr = fails_with(args, DEBUG="0", ALLOWED_HOSTS="chat.example.com")
    assert (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG=0."
        in stderr.splitlines()
    )


@pytest.mark.parametrize(
    "args",
    [["-c", "import django; django.setup()"], ["manage.py", "check"]],
    ids=["setup", "check"],
)
def test_settings_production_without_allowed_hosts_stops(args):
    stderr = fails_with(args, DEBUG="0", SECRET_KEY="a-long-random-production-key")
    assert (
        "django.core.exceptions.ImproperlyConfigured: ALLOWED_HOSTS must be set when DEBUG=0"
        " (comma-separated)." in stderr.splitlines()
    )


@pytest.mark.parametrize("value", ["0", "off"])
def test_settings_production_with_both_starts(value):
    env = {**PRODUCTION, "DEBUG": value, "ALLOWED_HOSTS": "chat.example.com, .example.org"}
    out = django(
        "from django.conf import settings as s\n"
        "out = [s.DEBUG, s.SECRET_KEY, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE,"
        " s.STORAGES['staticfiles']['BACKEND']]",
        **env,
    )
    assert out == [
        False,
        "a-long-random-production-key",
        ["chat.example.com", ".example.org"],
        True,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


def test_settings_development_defaults():
    out = django(
        "from django.conf import settings as s\n"
        "out = [s.DEBUG, bool(s.SECRET_KEY), s.ALLOWED_HOSTS, s.WECHAT_APPID, s.WECHAT_API_BASE,"
        " s.WECHAT_TIMEOUT, s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login'],"
        " s.REST_FRAMEWORK['NUM_PROXIES']]"
    )
    assert out == [
        True,
        True,
        ["localhost", "127.0.0.1", "[::1]", "testserver"],
        "",
        "https://api.weixin.qq.com",
        5.0,
        "30/min",
        0,
    ]


# Run in a child process: its journal mode and busy timeout as `mode` and `busy`.
READ_SQLITE_PRAGMAS = (
    "from django.conf import settings as s\n"
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('PRAGMA journal_mode')\n"
    "    mode = cursor.fetchone()[0]\n"
    "    cursor.execute('PRAGMA busy_timeout')\n"
    "    busy = cursor.fetchone()[0]\n"
)


def test_settings_sqlite_default_uses_wal(tmp_path):
    path = tmp_path / "huiliao.sqlite3"
    out = django(
        READ_SQLITE_PRAGMAS
        + "out = [s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], mode, busy]",
        SQLITE_PATH=str(path),
    )
    assert out == ["django.db.backends.sqlite3", str(path), "wal", 20000]
    assert path.exists()


def test_settings_database_url_selects_postgresql_with_a_bounded_pool():
    out = django(
        "from django.conf import settings as s\n"
        "d = s.DATABASES['default']\n"
        "pool = d['OPTIONS']['pool']\n"
        "out = [d['ENGINE'], d['NAME'], d['USER'], d['HOST'], d['PORT'], d['CONN_MAX_AGE'],"
        " d['CONN_HEALTH_CHECKS'], pool['min_size'], pool['max_size'], pool['timeout']]",
        DATABASE_URL="postgres://huiliao:pw@db.internal:5433/huiliao",
    )
    assert out == [
        "django.db.backends.postgresql",
        *("huiliao", "huiliao", "db.internal", 5433),
        0,  # the pool keeps connections, not the threads
        True,  # each pooled connection is checked before it is lent out
        *(2, 16, 10.0),
    ]


def test_settings_pool_size_and_no_pool():
    sized = django(
        "from django.conf import settings as s\n"
        "out = s.DATABASES['default']['OPTIONS']['pool']['max_size']",
        DATABASE_URL="postgres://huiliao:pw@db.internal:5433/huiliao",
        DB_POOL_MAX="40",
    )
    off = django(
        "from django.conf import settings as s\n"
        "d = s.DATABASES['default']\n"
        "out = ['pool' in d['OPTIONS'], d['CONN_MAX_AGE']]",
        DATABASE_URL="postgres://huiliao:pw@db.internal:5433/huiliao",
        DB_POOL_MAX="0",
    )
    assert (sized, off) == (40, [False, 0])


def test_settings_sqlite_url_gets_the_embedded_options(tmp_path):
    """DATABASE_URL=sqlite:///… must not lose WAL, IMMEDIATE and the busy timeout."""
    path = tmp_path / "by-url.sqlite3"
    out = django(
        READ_SQLITE_PRAGMAS + "d = s.DATABASES['default']\n"
        "out = [d['NAME'], d['OPTIONS']['transaction_mode'], mode, busy]",
        DATABASE_URL=f"sqlite:///{path}",
    )
    assert out == [str(path), "IMMEDIATE", "wal", 20000]


def test_settings_without_redis_url_uses_in_memory_layer():
    out = django(
        "from channels.layers import get_channel_layer\n"
        "from django.conf import settings as s\n"
        "out = [type(get_channel_layer()).__name__, s.CACHES['default']['BACKEND']]"
    )
    assert out == ["InMemoryChannelLayer", "django.core.cache.backends.locmem.LocMemCache"]


def test_settings_redis_url_selects_channels_redis(redis_url):
    # A real round trip through the configured layer, not only the class name.
    out = django(
        "from asgiref.sync import async_to_sync\n"
        "from channels.layers import get_channel_layer\n"
        "from django.conf import settings as s\n"
        "layer = get_channel_layer()\n"
        "async def roundtrip():\n"
        "    channel = await layer.new_channel()\n"
        "    await layer.send(channel, {'type': 'probe', 'n': 1})\n"
        "    message = await layer.receive(channel)\n"
        "    await layer.flush()\n"
        "    return message\n"
        "out = [type(layer).__module__ + '.' + type(layer).__name__, layer.prefix,"
        " s.CACHES['default']['BACKEND'], async_to_sync(roundtrip)()]",
        REDIS_URL=redis_url,
        REDIS_PREFIX="huiliao-settings-test",
    )
    assert out == [
        "channels_redis.core.RedisChannelLayer",
        "huiliao-settings-test",
        "django.core.cache.backends.redis.RedisCache",
        {"type": "probe", "n": 1},
    ]


def test_settings_login_rate_from_environment():
    out = django(
        "from accounts.api import LiveScopedRateThrottle\n"
        "out = LiveScopedRateThrottle().THROTTLE_RATES['login']",
        HUILIAO_LOGIN_RATE="5/hour",
    )
    assert out == "5/hour"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HUILIAO_NUM_PROXIES", "one", "HUILIAO_NUM_PROXIES must be an integer, got 'one'"),
        ("WECHAT_TIMEOUT", "soon", "WECHAT_TIMEOUT must be a number, got 'soon'"),
    ],
)
def test_settings_malformed_number_stops(name, value, message):
    stderr = fails_with("import django; django.setup()", **{name: value})
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in stderr.splitlines()


def test_settings_wechat_from_environment():
    out = django(
        "from django.conf import settings as s\n"
        "out = [s.WECHAT_APPID, s.WECHAT_SECRET, s.WECHAT_API_BASE, s.WECHAT_TIMEOUT]",
        WECHAT_APPID="wx123",
        WECHAT_SECRET="shh",
        WECHAT_API_BASE="http://127.0.0.1:9/",
        WECHAT_TIMEOUT="2.5",
    )
    assert out == ["wx123", "shh", "http://127.0.0.1:9", 2.5]


# The production settings docs/deploy.md and the README document, behind one proxy.
DOCUMENTED_PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "production-" + "k" * 40 + "-Zq9#x",
    "ALLOWED_HOSTS": "chat.example.com",
    "HUILIAO_NUM_PROXIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_check_deploy_is_clean_under_the_documented_production_settings():
    result = run(["manage.py", "check", "--deploy"], **DOCUMENTED_PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_forwarded_proto_is_trusted_only_behind_a_proxy():
    code = (
        "from django.conf import settings as s\nout = getattr(s, 'SECURE_PROXY_SSL_HEADER', None)"
    )
    production = {k: v for k, v in DOCUMENTED_PRODUCTION.items() if k != "HUILIAO_NUM_PROXIES"}
    assert django(code, **production) is None
    assert django(code, **DOCUMENTED_PRODUCTION) == ["HTTP_X_FORWARDED_PROTO", "https"]
