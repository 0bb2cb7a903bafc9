"""Live fan-out benchmark: real Daphne processes, PostgreSQL, Redis, and our own clients.

    python bench/fanout.py            # all three scenarios
    python bench/fanout.py --only a   # or b, c; --members, --rate, --seconds, --idle

(a) one Daphne process (the embedded in-memory layer), N members in one room, a few of
    them sending over their sockets at R messages/s for S seconds: every message is stored
    by the server, every member should receive every one. Prints p50/p99/max latency from
    the sender's write to each member's receipt, and how many receipts were lost.
(b) the same load on two Daphne processes sharing Redis and PostgreSQL, members split
    between them, senders on both.
(c) resident memory per idle connection: RSS of one Daphne process before and after
    opening M idle member sockets, divided by M.

The clients are a minimal asyncio websocket client in this one process (the `websockets`
library costs several times more CPU per frame, and on a small machine the clients share
the cores with the servers). Everything listens on 127.0.0.1 only; a scratch database and
a Redis key prefix are created for the run and removed afterwards. Needs PostgreSQL
(BENCH_DATABASE_URL or DATABASE_URL: any database on the server, used to create the
scratch one) and Redis (REDIS_URL, default redis://127.0.0.1:6379/0).
"""

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_ID = f"{os.getpid()}"
SCRATCH_DB = f"huiliao_bench_{RUN_ID}"
REDIS_PREFIX = f"huiliao_bench_{RUN_ID}"


# --- a minimal websocket client -----------------------------------------------------------


class Client(asyncio.Protocol):
    """One member's socket: handshake, then unmasked server frames parsed by hand."""

    def __init__(self, bench: "Load | None", path: str, host: str, key: str) -> None:
        self.bench = bench
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Token {key}\r\n\r\n"
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
            index = int(payload[start : payload.index(b'"', start)])
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


async def open_clients(
    port: int, code: str, keys: list[str], bench, concurrency: int = 100
) -> list[Client]:
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(concurrency)
    host = f"127.0.0.1:{port}"

    async def one(key: str) -> Client:
        async with limit:
            for attempt in range(5):
                try:
                    _, client = await loop.create_connection(
                        lambda: Client(bench, f"/ws/rooms/{code}/", host, key), "127.0.0.1", port
                    )
                    await asyncio.wait_for(client.hello, 60)
                    return client
                except (OSError, TimeoutError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    return await asyncio.gather(*(one(key) for key in keys))


# --- servers and data ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def profile_args(name: str) -> list[str]:
    """BENCH_PROFILE=1 runs the servers under cProfile (to see where the time goes)."""
    if not os.environ.get("BENCH_PROFILE"):
        return []
    return ["-m", "cProfile", "-o", f"/tmp/{REDIS_PREFIX}-{name}.prof"]  # noqa: S108


class Daphne:
    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.name = name
        self.log = open(f"/tmp/{REDIS_PREFIX}-{name}.log", "wb")  # noqa: S108, SIM115
        self.process = subprocess.Popen(
            [
                sys.executable, *profile_args(name), "-m", "daphne", "-v", "0",
                "-e", f"tcp:port={self.port}:interface=127.0.0.1:backlog=4096",
                "--websocket_connect_timeout", "60",
                "huiliao_site.asgi:application",
            ],
            env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne {name} exited; see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne {name} did not start")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def server_env(database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-" + uuid.uuid4().hex,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        HUILIAO_POST_RATE_COUNT="1000000",  # a few senders carry the whole hall's load
        HUILIAO_WS_IDLE_TIMEOUT="900",  # the clients do not ping during a run
    )
    if redis_url:
        env.update(REDIS_URL=redis_url, REDIS_PREFIX=REDIS_PREFIX)
    return env


def admin_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url or not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/fanout.py needs PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL=postgres://…"
        )
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_scratch_database() -> str:
    import psycopg

    with psycopg.connect(with_database(admin_url(), "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    url = with_database(admin_url(), SCRATCH_DB)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)  # this process only prepares data, it publishes nothing
    os.environ["DJANGO_SETTINGS_MODULE"] = "huiliao_site.settings"
    # Data is prepared before each scenario's clients start: blocking the loop is harmless.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def drop_scratch_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(with_database(admin_url(), "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


def make_room(members: int) -> tuple[str, list[str]]:
    """A room with `members` members (the owner first); returns its code and their tokens."""
    from django.utils import timezone
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
            Membership(
                room=room, user=user, display_name=user.nickname, avatar="sun", joined_at=now
            )
            for user in users[1:]
        ]
    )
    tokens = Token.objects.bulk_create(
        [Token(key=Token.generate_key(), user=user) for user in users]
    )
    return room.code, [token.key for token in tokens]


def stored_text_messages(code: str) -> int:
    from history.models import Message

    return Message.objects.filter(room__code=code, kind=Message.Kind.TEXT).count()


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
    servers: list[Daphne], members: int, rate: int, seconds: int, senders: int = 4
) -> dict:
    code, keys = make_room(members)
    total = rate * seconds
    load = Load(total)
    # Members split evenly between the servers; the first `senders` of each share send.
    groups = [keys[i :: len(servers)] for i in range(len(servers))]
    started = time.perf_counter()
    clients_by_server = [
        await open_clients(server.port, code, group, load)
        for server, group in zip(servers, groups, strict=True)
    ]
    clients = [client for group in clients_by_server for client in group]
    print(
        f"  {len(clients)} members connected in {time.perf_counter() - started:.1f} s", flush=True
    )
    per_server = max(1, senders // len(servers))
    sending = [client for group in clients_by_server for client in group[:per_server]]
    await asyncio.sleep(1)

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
    received = sum(len(client.seen) for client in clients)
    duplicates = sum(client.duplicates for client in clients)
    closed = [client.close_code for client in clients if client.transport.is_closing()]
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)
    return {
        "code": code,
        "total": total,
        "send_seconds": send_seconds,
        "latencies": load.latencies,
        "expected": expected,
        "received": received,
        "lost": expected - received,
        "duplicates": duplicates,
        "closed": closed,
    }


def report(title: str, result: dict, stored: int) -> None:
    latencies = sorted(result["latencies"])
    ms = [value * 1000 for value in latencies] or [float("nan")]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{title}", flush=True)
    print(
        f"  sent {result['total']} messages in {result['send_seconds']:.1f} s; "
        f"stored {stored}; receipts {result['received']}/{result['expected']}; "
        f"lost {result['lost']}; duplicates {result['duplicates']}; "
        f"closed by the server {len(result['closed'])} {sorted(set(result['closed']), key=str)}"
    )
    print(
        f"  latency p50 {statistics.median(ms):.0f} ms  p99 {p99:.0f} ms  max {ms[-1]:.0f} ms",
        flush=True,
    )


async def scenario_a(database_url: str, args) -> None:
    server = Daphne(server_env(database_url, None), "a")
    try:
        result = await run_load([server], args.members, args.rate, args.seconds)
    finally:
        server.stop()
    title = (
        f"(a) one Daphne process, in-memory layer: {args.members} members, "
        f"{args.rate} msg/s for {args.seconds} s"
    )
    report(title, result, stored_text_messages(result["code"]))


async def scenario_b(database_url: str, redis_url: str, args) -> None:
    env = server_env(database_url, redis_url)
    servers = [Daphne(env, "b1"), Daphne(env, "b2")]
    try:
        result = await run_load(servers, args.members, args.rate, args.seconds)
    finally:
        for server in servers:
            server.stop()
    title = (
        f"(b) two Daphne processes on Redis: {args.members} members split, "
        f"{args.rate} msg/s for {args.seconds} s"
    )
    report(title, result, stored_text_messages(result["code"]))


async def scenario_c(database_url: str, args) -> None:
    code, keys = make_room(args.idle + 20)
    server = Daphne(server_env(database_url, None), "c")
    try:
        warm = await open_clients(server.port, code, keys[:20], None)  # load the code paths
        await asyncio.sleep(2)
        before = server.rss_kb()
        clients = await open_clients(server.port, code, keys[20:], None)
        await asyncio.sleep(3)
        after = server.rss_kb()
        for client in warm + clients:
            client.close()
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    per = (after - before) / len(clients)
    print(f"(c) {len(clients)} idle connections on one Daphne process")
    print(
        f"  RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB: {per:.1f} KB per connection",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="abc", help="scenarios to run, e.g. 'a' or 'bc'")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=20, help="messages per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--idle", type=int, default=5000, help="idle connections for (c)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.idle * 2 + 1000
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", flush=True)
    database_url = create_scratch_database()
    try:
        if "a" in args.only:
            asyncio.run(scenario_a(database_url, args))
        if "b" in args.only:
            asyncio.run(scenario_b(database_url, redis_url, args))
        if "c" in args.only:
            asyncio.run(scenario_c(database_url, args))
    finally:
        drop_scratch_database()
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
