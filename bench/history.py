#!/usr/bin/env python
"""History paging benchmark: is a page of 50 as fast at the oldest end of a room with a
million messages as at the newest end?

Fills one room with 1,000,000 messages by bulk insert (PostgreSQL COPY, SQLite
executemany in big batches), then times `GET /api/v1/rooms/{code}/messages` through the
whole API stack (URL routing, token auth, middleware, access checks, serialization) with
Django's test client, at three places:

    newest   no cursor (the page a client loads on open)
    middle   ?before=500000
    oldest   ?after=0

and prints the median of each. Targets: every median <= 15 ms, oldest <= 1.5 x newest.

    python bench/history.py                                 # SQLite (a temp file)
    python bench/history.py --database-url postgres://postgres@127.0.0.1:5432/huiliao
                                                            # SQLite, then PostgreSQL

Each backend runs in a child process of this script with its own settings. The SQLite
database is a temporary file; for PostgreSQL the script creates a scratch database
`<name>_bench_history` on that server, migrates it, and drops it afterwards — the
database named in the URL is never touched.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 20
BATCH = 50_000
PAGE = 50
TARGET_MS = 15.0
TARGET_RATIO = 1.5


# --- Child: one backend -------------------------------------------------------------------


def fill(room, senders, total: int) -> None:
    """Bulk-insert messages last_seq+1..total into `room` and set room.last_seq."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from history.models import Message
    from rooms.models import Room

    table = Message._meta.db_table
    columns = "room_id, seq, sender_id, kind, body, client_id, created_at, hidden"
    start = room.last_seq + 1
    base = timezone.now() - dt.timedelta(days=2)
    ops = connection.ops

    def rows(first: int, last: int):
        for seq in range(first, last + 1):
            yield (
                room.pk,
                seq,
                senders[seq % len(senders)],
                "text",
                f"Message number {seq}: when does the next session start?",
                f"bench-{seq}",
                base + dt.timedelta(milliseconds=seq * 100),
                False,
            )

    if connection.vendor == "sqlite":
        # A scratch file: durability does not matter while loading it.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                copy_sql = f"COPY {table} ({columns}) FROM STDIN"  # noqa: S608 (our table)
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in rows(start, total):
                        copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
            raw = connection.connection
            for first in range(start, total + 1, BATCH):
                last = min(total, first + BATCH - 1)
                raw.executemany(
                    sql,
                    [
                        (
                            r[0],
                            r[1],
                            r[2].hex,
                            r[3],
                            r[4],
                            r[5],
                            ops.adapt_datetimefield_value(r[6]),
                            r[7],
                        )
                        for r in rows(first, last)
                    ],
                )
        Room.objects.filter(pk=room.pk).update(last_seq=total)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    room.last_seq = total


def run_child(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from accounts.services import token_for
    from history import services as history_services
    from rooms import services as room_services

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    owner = User.objects.create(username="bench-owner", nickname="Organiser", kind="staff")
    room = room_services.room_create(owner=owner, name="Benchmark hall")
    members = []
    for i in range(MEMBERS):
        user = User.objects.create(username=f"bench-{i}", nickname=f"Attendee {i}", kind="guest")
        history_services.member_enter(
            room=room, user=user, entry=room_services.Entry(display_name=f"Guest {i}")
        )
        members.append(user)
    room.refresh_from_db()
    setup_s = time.perf_counter() - started

    started = time.perf_counter()
    fill(room, [user.pk for user in members], args.messages)
    fill_s = time.perf_counter() - started

    client = Client(HTTP_AUTHORIZATION=f"Token {token_for(user=members[0])}")
    url = f"/api/v1/rooms/{room.code}/messages"
    middle = args.messages // 2
    places = {
        "newest": ({}, args.messages - PAGE + 1),
        "middle": ({"before": middle}, middle - PAGE),
        "oldest": ({"after": 0}, 1),
    }
    medians = {}
    for name, (params, first_seq) in places.items():
        timings, cpu = [], []
        for i in range(args.warmup + args.repeat):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, params)
            elapsed = time.perf_counter() - begin
            if i >= args.warmup:
                timings.append(elapsed)
                cpu.append(time.process_time() - begin_cpu)
        body = response.json()
        assert response.status_code == 200, response.content
        seqs = [m["seq"] for m in body["results"]]
        assert seqs == list(range(first_seq, first_seq + PAGE)), (name, seqs[:3])
        medians[name] = statistics.median(timings) * 1000
        # This process's CPU per request: on a loaded machine wall time also counts the
        # time spent waiting for a core (and, for PostgreSQL, excludes the server's work).
        medians[f"{name}_cpu"] = statistics.median(cpu) * 1000
    return {
        "backend": connection.vendor,
        "messages": args.messages,
        "setup_s": setup_s,
        "fill_s": fill_s,
        "repeat": args.repeat,
        **medians,
    }


# --- Parent: one child per backend, then the table ----------------------------------------


def child_env(**extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SQLITE_PATH", "REDIS_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="huiliao_site.settings",
        # Production-like: DEBUG off (no query log); the rest as `make run`.
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret",  # noqa: S106
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def run_backend(args, env: dict) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        f"--messages={args.messages}",
        f"--repeat={args.repeat}",
        f"--warmup={args.warmup}",
    ]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"benchmark child failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def scratch_postgres(url: str):
    """(scratch URL, drop function): a fresh database beside the one in `url`."""
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "huiliao") + "_bench_history"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    scratch_url = urlunsplit(parts._replace(path=f"/{name}"))

    def execute(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql)

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    return scratch_url, lambda: execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="also run on this PostgreSQL server")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per place")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return

    results = []
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="huiliao-bench-") as tmp:
            sqlite_path = str(Path(tmp) / "bench.sqlite3")
            print(f"sqlite: filling {args.messages:,} messages …", flush=True)
            results.append(run_backend(args, child_env(SQLITE_PATH=sqlite_path)))
    if args.database_url:
        scratch_url, drop = scratch_postgres(args.database_url)
        try:
            print(f"postgresql: filling {args.messages:,} messages …", flush=True)
            results.append(run_backend(args, child_env(DATABASE_URL=scratch_url)))
        finally:
            drop()

    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load} on {os.cpu_count()} cores")
    print(f"GET …/messages, page of {PAGE}, median of {args.repeat} requests (Django test client)")
    header = f"{'backend':<11}{'messages':>10}{'fill s':>8}{'newest ms':>11}{'middle ms':>11}"
    print(header + f"{'oldest ms':>11}{'old/new':>9}  verdict")
    failed = False
    for r in results:
        ratio = r["oldest"] / r["newest"]
        ok = max(r["newest"], r["middle"], r["oldest"]) <= TARGET_MS and ratio <= TARGET_RATIO
        failed |= not ok
        print(
            f"{r['backend']:<11}{r['messages']:>10,}{r['fill_s']:>8.1f}{r['newest']:>11.2f}"
            f"{r['middle']:>11.2f}{r['oldest']:>11.2f}{ratio:>9.2f}  {'ok' if ok else 'MISSED'}"
        )
    print("client-process CPU per request, median (ms):")
    for r in results:
        cpu = "  ".join(
            f"{place} {r[f'{place}_cpu']:.2f}" for place in ("newest", "middle", "oldest")
        )
        print(f"  {r['backend']:<11}{cpu}")
    print(f"targets: every median <= {TARGET_MS} ms, oldest <= {TARGET_RATIO} x newest")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
