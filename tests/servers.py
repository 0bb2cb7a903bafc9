"""The project in real server processes, for tests and benchmarks alike: a free port, the
environment that points a process at the test database, waiting for a port, and Daphne
launched as `make run-cluster` launches it."""

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent


def raise_open_files_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, *, timeout: float, what: str) -> None:
    """Return once something listens on `port`; raise if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f} s")


def database_url(settings_dict: dict, *, application_name: str | None = None) -> str:
    """A PostgreSQL connection's settings as a DATABASE_URL (with an application_name, a
    test can find that process's backends in pg_stat_activity)."""
    user = quote(settings_dict.get("USER") or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    url = f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"
    return f"{url}?application_name={application_name}" if application_name else url


def database_env(*, application_name: str | None = None) -> dict[str, str]:
    """Environment that points a server process at the test database pytest-django made."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return {"SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    return {"DATABASE_URL": database_url(db, application_name=application_name)}


def daphne_command(
    port: int, *, backlog: int = 2048, python_args: tuple | list = (), quiet: bool = False
) -> list[str]:
    """As in `make run-cluster`: a listen backlog and a handshake timeout that let a whole
    hall join at once (Daphne's defaults: 50 and 5 s). `quiet`: no access log (a benchmark
    must not measure its own logging)."""
    return [
        sys.executable,
        *python_args,
        "-m",
        "daphne",
        *(["-v", "0"] if quiet else []),
        "-e",
        f"tcp:port={port}:interface=127.0.0.1:backlog={backlog}",
        "--websocket_connect_timeout",
        "30",
        "huiliao_site.asgi:application",
    ]


class DaphneProcess:
    """`daphne` serving the real application on a free loopback port, with `env`."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, name: str, *, backlog: int = 2048,
        python_args: tuple = (),
    ) -> None:  # fmt: skip
        self.env = env
        self.name = name
        self.port = free_port()
        self.log_path = Path(log_dir) / f"daphne-{name}.log"
        self.backlog = backlog
        self.python_args = python_args
        self.process: subprocess.Popen | None = None

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
                daphne_command(self.port, backlog=self.backlog, python_args=self.python_args),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        try:
            wait_for_port(self.port, self.process, timeout=timeout, what=f"daphne {self.name}")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log()[-2000:]}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# A server that machines drive faster than people: every rate limit far out of reach.
UNTHROTTLED = {
    "HUILIAO_LOGIN_RATE": "100000/min",
    "HUILIAO_ROOM_CREATE_RATE": "100000/hour",
    "HUILIAO_ROOM_CREATE_ADDRESS_RATE": "100000/hour",
    "HUILIAO_NEARBY_RATE": "100000/min",
    "HUILIAO_NEARBY_ADDRESS_RATE": "100000/min",
    "HUILIAO_POST_RATE_COUNT": "100000",
    "HUILIAO_FAILED_LOOKUP_LIMIT": "1000000",
}


def wechat_env(fake) -> dict[str, str]:
    """A server's WeChat settings, pointing at a fake WeChat (tests.fake_wechat)."""
    from tests.accounts.helpers import APPID, SECRET

    return {"WECHAT_API_BASE": fake.base_url, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET}


def server_env(**overrides: str) -> dict[str, str]:
    """This process's environment for a server on the test database, posting as fast as
    tests do; `overrides` last (an empty REDIS_URL: the in-process layer)."""
    env = dict(os.environ, **database_env())
    env.update(
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        HUILIAO_POST_RATE_COUNT="100000",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class DaphnePool:
    """Daphne processes a test starts by name and that all stop with it."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[DaphneProcess] = []

    def start(self, name: str, env: dict[str, str]) -> DaphneProcess:
        process = DaphneProcess(env, self.log_dir, name)
        process.start()
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


class RedisServer:
    """A throwaway `redis-server` (nothing on disk, so a restart comes back empty, as the
    machine's own does)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, timeout=10, what="redis-server")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
