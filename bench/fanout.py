"""Live fan-out benchmark: real Daphne processes, a real database, our own clients.

    python bench/fanout.py                       # every scenario, on PostgreSQL
    python bench/fanout.py --database sqlite     # the embedded defaults (no (b))
    python bench/fanout.py --only a              # or b, c, d, w; --members, --rate, --seconds

(a) one process, N members (1,000) in one room, 40 of them sending over their sockets
    (each within the default posting budget) at R messages/s (20) for S seconds (10),
    measured with the same client on a bare `websockets` relay (bench/relay.py, the
    floor), Huiliao with token sockets (the mini-program) and Huiliao with session-cookie
    sockets (the browser pages, `Origin` set as a browser sets it). The three loads take
    turns --rounds times (3), and each one's figures pool its rounds, so a moment of noise
    on a shared machine weighs on all three alike. Target: Huiliao's p99 <= 1.5 x the
    floor's.
(d) 3,000 members x 20 msg/s (60,000 frames/s) on session sockets: p99 <= 250 ms (the
    relay's figures at this size are printed beside it: what the machine itself carries).
(b) (PostgreSQL only) the (a) load on two Daphne processes sharing Redis: p99 <= 1.3 x
    one process's.
(c) resident memory per idle socket: RSS of one Daphne before and after M (5,000) sockets.
(w) the write path measured: direct socket writes against autobahn's public
    `sendPreparedMessage` (HUILIAO_WS_WRITE=prepared), 1,000 token members.

Every load prints p50/p99/max from a sender's write to each member's receipt, receipts
lost, the time from opening all members' sockets at once to the last `hello` (and how
many connection attempts were refused), and the CPU seconds the server used. On
PostgreSQL it also prints how long a one-row commit took beside the load (every 50 ms on
its own connection): a post waits for its commit to reach the disk, so a slow flush shows
in the receipts of every message posted meanwhile, and the relay stores nothing.
`--no-disk-wait` runs the scratch database with `synchronous_commit = off`: the live path
without the disk, for diagnosis only (Huiliao never runs so: docs/deploy.md says why).

The clients are a minimal asyncio websocket client in this one process (the `websockets`
client costs several times more CPU per frame, and on a small machine the clients share
the cores with the servers). Everything listens on 127.0.0.1 only; a scratch database (a
PostgreSQL database, or a SQLite file) and a Redis key prefix are made for the run and
removed afterwards. PostgreSQL from BENCH_DATABASE_URL or DATABASE_URL (any database on
the server, used to create the scratch one); Redis from REDIS_URL (default
redis://127.0.0.1:6379/0).
"""

import argparse
import asyncio
import base64
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The servers are launched as the tests launch them (one helper for both).
from tests.servers import (  # noqa: E402
    daphne_command,
    free_port,
    raise_open_files_limit,
    wait_for_port,
)

RUN_ID = f"{os.getpid()}"
SCRATCH_DB = f"huiliao_bench_{RUN_ID}"
REDIS_PREFIX = f"huiliao_bench_{RUN_ID}"
LOG_DIR = Path(tempfile.gettempdir())
# One key for this process and the servers: sessions made here are signed with it.
SECRET_KEY = "bench-only-" + uuid.uuid4().hex


# --- a minimal websocket client -----------------------------------------------------------


class Client(asyncio.Protocol):
    """One member's socket: handshake, then unmasked server frames parsed by hand."""

    def __init__(self, bench: "Load | None", path: str, host: str, auth: str) -> None:
        self.bench = bench
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{auth}\r\n"
        ).encode()
        self.buffer = bytearray()
        self.upgraded = False
        self.hello: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.seen: set[int] = set()
        self.duplicates = 0
        self.close_code: int | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.hello.done():
            self.hello.set_exception(ConnectionError(f"closed before hello ({self.close_code})"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.hello.set_exception(ConnectionError(bytes(buffer[:end]).decode()))
                self.transport.close()
                return
            del buffer[: end + 4]
            self.upgraded = True
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.transport.close()
            elif opcode == 9:
                self.write(0xA, payload)

    def on_text(self, payload: bytes) -> None:
        now = time.perf_counter()
        # The load's frames are parsed by hand (json.loads would cost this process as much
        # as the server spends sending the frame): {"type":"message",…"kind":"text","body":"<n>"…}
        if payload.startswith(b'{"type":"message"'):
            if b'"kind":"text"' not in payload:
                return
            start = payload.index(b'"body":"') + 8
            body = payload[start : payload.index(b'"', start)]
            if not body.isdigit():
                return  # a warm-up message
            index = int(body)
            if index in self.seen:
                self.duplicates += 1
                return
            self.seen.add(index)
            if self.bench is not None:
                self.bench.received(index, now)
            return
        frame = json.loads(payload)
        if frame["type"] == "hello":
            if not self.hello.done():
                self.hello.set_result(frame)
        elif frame["type"] == "error":
            print(f"  error frame: {frame}", flush=True)

    def write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes([0x80 | opcode, 0x80 | length])
        else:
            header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.transport.write(header + mask + masked)

    def send_json(self, frame: dict) -> None:
        self.write(0x1, json.dumps(frame).encode())

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.write(0x8, (1000).to_bytes(2, "big"))
            self.transport.close()


def auth_header(kind: str, secret: str, port: int) -> str:
    """The request header lines that authenticate a member: a token (the mini-program), or
    the session cookie with our own Origin (a browser page)."""
    if kind == "token":
        return f"Authorization: Token {secret}\r\n"
    if kind == "session":
        return f"Cookie: sessionid={secret}\r\nOrigin: http://127.0.0.1:{port}\r\n"
    return ""  # the relay asks for nothing


async def open_clients(
    port: int, code: str, kind: str, secrets: list[str], bench
) -> tuple[list[Client], float, int]:
    """Open every member's socket at once (a hall opening the room together). Returns the
    clients, the seconds until the last hello, and how many attempts were refused."""
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{port}"
    refused = 0

    async def one(secret: str) -> Client:
        nonlocal refused
        for attempt in range(5):
            try:
                _, client = await loop.create_connection(
                    lambda: Client(
                        bench, f"/ws/rooms/{code}/", host, auth_header(kind, secret, port)
                    ),
                    "127.0.0.1",
                    port,
                )
                await asyncio.wait_for(client.hello, 60)
                return client
            except (OSError, TimeoutError):
                refused += 1
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    started = time.perf_counter()
    clients = await asyncio.gather(*(one(secret) for secret in secrets))
    return clients, time.perf_counter() - started, refused


# --- servers and data ---------------------------------------------------------------------


def profile_args(name: str) -> list[str]:
    """BENCH_PROFILE=1 runs the servers under cProfile (to see where the time goes)."""
    if not os.environ.get("BENCH_PROFILE"):
        return []
    return ["-m", "cProfile", "-o", str(LOG_DIR / f"{REDIS_PREFIX}-{name}.prof")]


class Server:
    """A server process on a free loopback port: Daphne with the project, or the relay."""

    def __init__(self, env: dict[str, str], name: str, relay: bool = False) -> None:
        self.port = free_port()
        self.name = name
        self.log = open(LOG_DIR / f"{REDIS_PREFIX}-{name}.log", "wb")  # noqa: SIM115
        if relay:
            command = [sys.executable, str(ROOT / "bench" / "relay.py"), str(self.port)]
        else:
            command = daphne_command(
                self.port, backlog=4096, python_args=profile_args(name), quiet=True
            )
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, self.process, timeout=60, what=f"{name} (see {self.log.name})")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Database:
    """The scratch database this run works on, and how a server process reaches it."""

    def __init__(self, kind: str, *, commits_wait_for_disk: bool = True) -> None:
        self.kind = kind
        self.commits_wait_for_disk = commits_wait_for_disk
        self.env: dict[str, str] = {}
        self.sqlite_dir: tempfile.TemporaryDirectory | None = None

    def create(self) -> None:
        if self.kind == "sqlite":
            self.sqlite_dir = tempfile.TemporaryDirectory(prefix="huiliao-bench-")
            self.env = {"SQLITE_PATH": str(Path(self.sqlite_dir.name) / "bench.sqlite3")}
            os.environ.pop("DATABASE_URL", None)
        else:
            import psycopg

            with psycopg.connect(with_database(admin_url(), "postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
                if not self.commits_wait_for_disk:
                    conn.execute(f'ALTER DATABASE "{SCRATCH_DB}" SET synchronous_commit = off')
            self.env = {"DATABASE_URL": with_database(admin_url(), SCRATCH_DB)}
        os.environ.update(self.env)
        os.environ.pop("REDIS_URL", None)  # this process only prepares data: it publishes nothing
        os.environ["DJANGO_SETTINGS_MODULE"] = "huiliao_site.settings"
        os.environ["SECRET_KEY"] = SECRET_KEY
        # Data is prepared before each scenario's clients start: blocking the loop is harmless.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def commit_probe(self) -> "CommitProbe | None":
        """PostgreSQL only: SQLite's commits (WAL, synchronous=NORMAL) wait for no disk."""
        return CommitProbe(self.env["DATABASE_URL"]) if self.kind == "postgres" else None

    def drop(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.sqlite_dir is not None:
            self.sqlite_dir.cleanup()
            return
        import psycopg

        with psycopg.connect(with_database(admin_url(), "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


def server_env(database: Database, redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "SQLITE_PATH", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(database.env)
    env.update(
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
        HUILIAO_WS_IDLE_TIMEOUT="900",  # the clients do not ping during a run
    )
    if redis_url:
        env.update(REDIS_URL=redis_url, REDIS_PREFIX=REDIS_PREFIX)
    env.update(extra)
    return env


def admin_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url or not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/fanout.py needs PostgreSQL (BENCH_DATABASE_URL or DATABASE_URL=postgres://…)"
            " or --database sqlite"
        )
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class CommitProbe:
    """Times a one-row commit on the run's PostgreSQL every 50 ms while a load runs.

    Why: every post waits for its commit to reach the disk (the message is stored before
    anyone is told), and while one commit waits for a slow flush, every later one waits
    behind it. On a virtual disk a flush now and then takes hundreds of ms: the same stall
    appears in every receipt of the messages posted meanwhile. The relay stores nothing, so
    this line tells the disk's share of a tail from the live path's."""

    INTERVAL = 0.05

    def __init__(self, url: str) -> None:
        self.url = url
        self.seconds: list[float] = []
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        import psycopg

        self.connection = psycopg.connect(self.url, autocommit=True)
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY)"
        )
        self.thread = threading.Thread(target=self._run, name="commit-probe", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(self.INTERVAL):
            started = time.perf_counter()
            self.connection.execute("INSERT INTO bench_commit_probe DEFAULT VALUES")
            self.seconds.append(time.perf_counter() - started)

    def stop(self) -> list[float]:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
        self.connection.close()
        return self.seconds


def make_room(members: int, kind: str) -> tuple[str, list[str]]:
    """A room with `members` members (the owner first); returns its code and each member's
    secret: a token key, or a session key (sessions made as Django's login makes them)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from rooms.models import Membership
    from rooms.services import room_create

    tag = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create(
        [
            User(username=f"b{tag}{n}", nickname=f"Member {n}", kind=User.Kind.GUEST, password="!")  # noqa: S106 (unusable)
            for n in range(members)
        ]
    )
    room = room_create(owner=users[0], name=f"Bench hall {tag}")
    now = timezone.now()
    Membership.objects.bulk_create(
        [
            Membership.unsaved(
                room=room, user=user, display_name=user.nickname, avatar="sun", joined_at=now
            )
            for user in users[1:]
        ]
    )
    if kind == "token":
        tokens = Token.objects.bulk_create(
            [Token(key=Token.generate_key(), user=user) for user in users]
        )
        return room.code, [token.key for token in tokens]
    store = SessionStore()
    backend = "django.contrib.auth.backends.ModelBackend"
    expire = now + timezone.timedelta(days=1)
    sessions = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expire,
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions)
    return room.code, [session.session_key for session in sessions]


def stored_text_messages(code: str) -> int:
    from history.models import Message

    # The measured load's (client ids b0, b1, …), not the warm-up's (w0, w1, …).
    return Message.objects.filter(
        room__code=code, kind=Message.Kind.TEXT, client_id__startswith="b"
    ).count()


# --- the load -----------------------------------------------------------------------------


class Load:
    def __init__(self, total: int) -> None:
        self.sent_at: list[float | None] = [None] * total
        self.latencies: list[float] = []

    def received(self, index: int, now: float) -> None:
        sent = self.sent_at[index]
        if sent is not None:
            self.latencies.append(now - sent)


async def run_load(
    servers: list[Server],
    kind: str,
    members: int,
    rate: int,
    seconds: int,
    senders: int = 40,
    probe: CommitProbe | None = None,
) -> dict:
    if kind == "relay":
        code, secrets = "RELAY", [""] * members
    else:
        code, secrets = make_room(members, kind)
    total = rate * seconds
    load = Load(total)
    # Members split evenly between the servers; the first `senders` of each share send.
    groups = [secrets[i :: len(servers)] for i in range(len(servers))]
    cpu_before = [server.cpu_seconds() for server in servers]
    client_cpu_before = time.process_time()
    opened = await asyncio.gather(
        *(
            open_clients(server.port, code, kind, group, load)
            for server, group in zip(servers, groups, strict=True)
        )
    )
    clients_by_server = [clients for clients, _, _ in opened]
    join_seconds = max(seconds_ for _, seconds_, _ in opened)
    refused = sum(refused_ for _, _, refused_ in opened)
    clients = [client for group in clients_by_server for client in group]
    per_server = max(1, senders // len(servers))
    sending = [client for group in clients_by_server for client in group[:per_server]]
    # Warm-up, not measured: every sender posts once (its server's first posts open
    # database connections and fill caches, which a server that has run a while has done).
    for index, client in enumerate(sending):
        client.send_json({"type": "send", "body": f"warm-up {index}", "client_id": f"w{index}"})
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(1)
    # The clients' own garbage collector would pause this process for tens of ms at a time
    # and add that to every kind's latencies alike: it waits until the load is measured.
    gc.collect()
    gc.disable()
    if probe is not None:
        probe.start()

    interval = 1 / rate
    start = time.perf_counter()
    for index in range(total):
        target = start + index * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        load.sent_at[index] = time.perf_counter()
        sending[index % len(sending)].send_json(
            {"type": "send", "body": str(index), "client_id": f"b{index}"}
        )
    send_seconds = time.perf_counter() - start

    expected = total * len(clients)
    deadline = time.perf_counter() + 15
    while len(load.latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    cpu = sum(
        server.cpu_seconds() - before for server, before in zip(servers, cpu_before, strict=True)
    )
    client_cpu = time.process_time() - client_cpu_before
    commits = probe.stop() if probe is not None else []
    gc.enable()
    received = sum(len(client.seen) for client in clients)
    duplicates = sum(client.duplicates for client in clients)
    closed = [client.close_code for client in clients if client.transport.is_closing()]
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)
    return {
        "code": code,
        "kind": kind,
        "members": len(clients),
        "total": total,
        "send_seconds": send_seconds,
        "latencies": load.latencies,
        "expected": expected,
        "received": received,
        "lost": expected - received,
        "duplicates": duplicates,
        "closed": closed,
        "join_seconds": join_seconds,
        "refused": refused,
        "cpu_seconds": cpu,
        "client_cpu_seconds": client_cpu,
        "stored": total if kind == "relay" else stored_text_messages(code),
        "commits": commits,
    }


def pooled(runs: list[dict]) -> dict:
    """Several runs of one load as one: samples and counts added up, the slowest join."""
    added = ("total", "expected", "received", "lost", "duplicates", "refused", "stored")
    result = dict(runs[0])
    for key in added + ("cpu_seconds", "client_cpu_seconds", "send_seconds"):
        result[key] = sum(run[key] for run in runs)
    result["latencies"] = [value for run in runs for value in run["latencies"]]
    result["closed"] = [code for run in runs for code in run["closed"]]
    result["commits"] = [value for run in runs for value in run["commits"]]
    result["join_seconds"] = max(run["join_seconds"] for run in runs)
    return result


def p99_ms(result: dict) -> float:
    ms = sorted(value * 1000 for value in result["latencies"]) or [float("nan")]
    return ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def report(title: str, result: dict) -> None:
    ms = sorted(value * 1000 for value in result["latencies"]) or [float("nan")]
    print(title, flush=True)
    print(
        f"  join: {result['members']} sockets opened at once, all at hello in "
        f"{result['join_seconds']:.2f} s ({result['refused']} attempts refused)"
    )
    print(
        f"  sent {result['total']} messages in {result['send_seconds']:.1f} s; "
        f"stored {result['stored']}; receipts {result['received']}/{result['expected']}; "
        f"lost {result['lost']}; duplicates {result['duplicates']}; "
        f"closed by the server {len(result['closed'])} {sorted(set(result['closed']), key=str)}"
    )
    print(
        f"  latency p50 {statistics.median(ms):.0f} ms  p99 {p99_ms(result):.0f} ms  "
        f"max {ms[-1]:.0f} ms;  CPU: server {result['cpu_seconds']:.1f} s, "
        f"clients {result['client_cpu_seconds']:.1f} s",
        flush=True,
    )
    if result["commits"]:
        commits = sorted(value * 1000 for value in result["commits"])
        slow = sum(value > 100 for value in commits)
        print(
            f"  PostgreSQL commits beside the load: p50 {statistics.median(commits):.1f} ms  "
            f"p99 {commits[int(len(commits) * 0.99)]:.0f} ms  max {commits[-1]:.0f} ms "
            f"({slow} of {len(commits)} over 100 ms)",
            flush=True,
        )


def slowest_commit(result: dict) -> str:
    """For a round's one-line summary: a disk stall shows beside the tail it caused."""
    if not result["commits"]:
        return ""
    return f" (slowest PostgreSQL commit {max(result['commits']) * 1000:.0f} ms)"


async def one_load(
    database: Database, env: dict[str, str], kind: str, args, name: str, members: int
) -> dict:
    server = Server(env, name, relay=kind == "relay")
    try:
        return await run_load(
            [server], kind, members, args.rate, args.seconds, probe=database.commit_probe()
        )
    finally:
        server.stop()


async def scenario_a(database: Database, args) -> None:
    print(
        f"(a) one process, {args.members} members, {args.rate} msg/s for {args.seconds} s, "
        f"{database.kind}, in-process layer",
        flush=True,
    )
    env = server_env(database, None)
    labels = {
        "relay": "floor: bare websockets relay",
        "token": "Huiliao, token sockets (mini-program)",
        "session": "Huiliao, session-cookie sockets (browser pages)",
    }
    rounds: dict[str, list[dict]] = {kind: [] for kind in labels}
    for round_ in range(args.rounds):
        for kind in labels:
            result = await one_load(database, env, kind, args, f"a-{kind}-{round_}", args.members)
            rounds[kind].append(result)
            print(
                f"  round {round_ + 1}, {kind}: p99 {p99_ms(result):.0f} ms"
                + slowest_commit(result),
                flush=True,
            )
    results = {kind: pooled(runs) for kind, runs in rounds.items()}
    for kind, label in labels.items():
        report(f" {label} ({args.rounds} rounds pooled)", results[kind])
    floor = p99_ms(results["relay"])
    for kind in ("token", "session"):
        ratio = p99_ms(results[kind]) / floor
        verdict = "met" if ratio <= 1.5 and results[kind]["lost"] == 0 else "MISSED"
        print(f"  {kind}: p99 {ratio:.2f} x the floor's (target <= 1.5, nothing lost): {verdict}")


async def scenario_d(database: Database, args) -> None:
    members = args.big_members
    # The floor at this size too: whether the machine itself carries 60,000 frames/s.
    floor = await one_load(database, server_env(database, None), "relay", args, "d-relay", members)
    result = await one_load(database, server_env(database, None), "session", args, "d", members)
    report(f"(d) floor: bare websockets relay, {members} members", floor)
    report(
        f"(d) one process, {members} members (session sockets), {args.rate} msg/s for "
        f"{args.seconds} s, {database.kind}",
        result,
    )
    verdict = "met" if p99_ms(result) <= 250 and result["lost"] == 0 else "MISSED"
    print(
        f"  target p99 <= 250 ms, nothing lost: {verdict} "
        f"({p99_ms(result) / p99_ms(floor):.2f} x the floor's p99 in this run)",
        flush=True,
    )


async def scenario_b(database: Database, redis_url: str, args) -> None:
    one = await one_load(
        database, server_env(database, None), "session", args, "b-one", args.members
    )
    report(f"(b) baseline: one process, {args.members} session members", one)
    env = server_env(database, redis_url)
    servers = [Server(env, "b1"), Server(env, "b2")]
    try:
        two = await run_load(
            servers,
            "session",
            args.members,
            args.rate,
            args.seconds,
            probe=database.commit_probe(),
        )
    finally:
        for server in servers:
            server.stop()
    report(f"(b) two Daphne processes on Redis: {args.members} session members split", two)
    ratio = p99_ms(two) / p99_ms(one)
    verdict = "met" if ratio <= 1.3 and two["lost"] == 0 else "MISSED"
    print(f"  p99 {ratio:.2f} x one process's (target <= 1.3): {verdict}", flush=True)


async def scenario_w(database: Database, args) -> None:
    print(f"(w) write path, {args.members} token members, {database.kind}", flush=True)
    for mode in ("direct", "prepared"):
        env = server_env(database, None, HUILIAO_WS_WRITE=mode)
        result = await one_load(database, env, "token", args, f"w-{mode}", args.members)
        report(f" HUILIAO_WS_WRITE={mode}", result)


async def scenario_c(database: Database, args) -> None:
    code, secrets = make_room(args.idle + 20, "session")
    server = Server(server_env(database, None), "c")
    try:
        warm, _, _ = await open_clients(server.port, code, "session", secrets[:20], None)
        await asyncio.sleep(2)
        before = server.rss_kb()
        clients, join_seconds, refused = await open_clients(
            server.port, code, "session", secrets[20:], None
        )
        await asyncio.sleep(3)
        after = server.rss_kb()
        for client in warm + clients:
            client.close()
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    per = (after - before) / len(clients)
    print(f"(c) {len(clients)} idle session sockets on one process, {database.kind}")
    print(f"  join: all at hello in {join_seconds:.2f} s ({refused} attempts refused)")
    verdict = "met" if per <= 40 else "MISSED"
    print(
        f"  RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB: {per:.1f} KB per socket "
        f"(target <= 40 KB): {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--only", default="adbc", help="scenarios to run, e.g. 'a' or 'bc'")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--big-members", type=int, default=3000, help="members in (d)")
    parser.add_argument("--rate", type=int, default=20, help="messages per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="turns of the three loads in (a)")
    parser.add_argument("--idle", type=int, default=5000, help="idle sockets for (c)")
    parser.add_argument(
        "--no-disk-wait",
        action="store_true",
        help="PostgreSQL: the scratch database's commits do not wait for the disk "
        "(synchronous_commit=off), to tell the live path's tail from the disk's",
    )
    args = parser.parse_args()

    raise_open_files_limit(max(args.idle, args.big_members) * 2 + 1000)
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", flush=True)
    if args.no_disk_wait:
        print(
            "--no-disk-wait: PostgreSQL commits do not wait for the disk here (a diagnosis of "
            "the live path alone; Huiliao never runs so)",
            flush=True,
        )
    database = Database(args.database, commits_wait_for_disk=not args.no_disk_wait)
    database.create()
    try:
        if "a" in args.only:
            asyncio.run(scenario_a(database, args))
        if "d" in args.only:
            asyncio.run(scenario_d(database, args))
        if "b" in args.only and database.kind == "postgres":
            asyncio.run(scenario_b(database, redis_url, args))
        if "c" in args.only:
            asyncio.run(scenario_c(database, args))
        if "w" in args.only:
            asyncio.run(scenario_w(database, args))
    finally:
        database.drop()
        cleanup_redis(redis_url)
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


def cleanup_redis(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
