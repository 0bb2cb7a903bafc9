#!/usr/bin/env python
"""WeChat's content check in the posting path, measured beside its baseline in one run.

    python bench/content_check.py [--seconds 10] [--rate 20] [--wechat-ms 200]

The real ASGI application (socket consumer, room hub, services) on a temporary SQLite
file, a local fake WeChat answering `msg_sec_check`, and 10 guests + 10 WeChat users in
one room, each with a socket. Messages go out over the sockets at --rate per second; each
is timed from `send` to its sender's socket receiving it. Three phases:

1. baseline: only guests post (nothing is sent to WeChat);
2. guests and WeChat users post alike, WeChat answering in --wechat-ms;
3. the same while WeChat hangs (longer than WECHAT_CHECK_TIMEOUT, 2 s): the WeChat users'
   messages are held for review (HUILIAO_CONTENT_CHECK_FAILURE=review) once the timeout
   passes, and the guests must not notice.

What it shows: the check adds nothing to guests' messages (it runs in a thread of its
own, never on the event loop nor in a database thread), and a WeChat user's message is
never held up longer than the timeout.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHECK = "/wxa/msg_sec_check"
TIMEOUT_SECONDS = 2.0


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(
        SQLITE_PATH=str(Path(tempfile.mkdtemp()) / "check.sqlite3"),
        HUILIAO_POST_RATE_COUNT="1000000",
        WECHAT_APPID="wxbench",
        WECHAT_SECRET="secret",  # noqa: S106 (the fake WeChat accepts any)
        WECHAT_CHECK_TIMEOUT=str(TIMEOUT_SECONDS),
        LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_room(members: int):
    from accounts.models import User
    from accounts.services import token_for
    from history.services import member_enter
    from rooms.services import room_create

    owner = User.objects.create(username="owner", nickname="Owner", kind="guest")
    room = room_create(owner=owner, name="Bench hall")
    people = []
    for n in range(members):
        wechat = n % 2 == 1
        user = User.objects.create(
            username=f"u{n}",
            nickname=f"Member {n}",
            kind="wechat" if wechat else "guest",
            openid=f"o6_bench{n:06d}" if wechat else None,
        )
        member_enter(room=room, user=user)
        people.append(("wechat" if wechat else "guest", token_for(user=user)))
    return room.code, people


class Member:
    def __init__(self, kind: str, communicator):
        self.kind = kind
        self.socket = communicator
        self.waiting: dict[str, float] = {}
        self.took: list[float] = []
        self.held = 0

    async def read(self):
        while True:
            frame = await self.socket.receive_json_from(timeout=60)
            message = frame.get("message") if frame.get("type") == "message" else None
            if message and message.get("client_id") in self.waiting:
                sent = self.waiting.pop(message["client_id"])
                self.took.append((time.perf_counter() - sent) * 1000)
                self.held += message["review"] == "pending"


def summary(values: list[float]) -> str:
    if not values:
        return "no messages"
    ordered = sorted(values)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (
        f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {ordered[-1]:7.1f} ms  ({len(ordered)})"
    )


async def phase(members: list[Member], kinds: set[str], rate: float, seconds: float) -> None:
    senders = [member for member in members if member.kind in kinds]
    for member in members:
        member.took, member.held = [], 0
    interval = 1 / rate
    start = time.perf_counter()
    count = int(rate * seconds)
    for n in range(count):
        member = senders[n % len(senders)]
        client_id = f"{time.monotonic_ns()}-{n}"
        member.waiting[client_id] = time.perf_counter()
        await member.socket.send_json_to(
            {"type": "send", "body": f"消息 {n}", "client_id": client_id}
        )
        delay = start + (n + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    deadline = time.perf_counter() + TIMEOUT_SECONDS * 3
    while any(m.waiting for m in members) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)


async def run(args, fake) -> None:
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from huiliao_site.asgi import application

    code, people = await database_sync_to_async(make_room)(20)
    members = []
    for kind, token in people:
        communicator = WebsocketCommunicator(
            application,
            f"/ws/rooms/{code}/",
            headers=[(b"authorization", f"Token {token}".encode())],
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        hello = await communicator.receive_json_from(timeout=10)
        assert hello["type"] == "hello", hello
        members.append(Member(kind, communicator))
    readers = [asyncio.ensure_future(member.read()) for member in members]

    def report(title: str) -> None:
        print(title)
        for kind in ("guest", "wechat"):
            took = [t for m in members if m.kind == kind for t in m.took]
            held = sum(m.held for m in members if m.kind == kind)
            if took:
                note = f", held for review: {held}" if kind == "wechat" else ""
                print(f"  {kind:7} {summary(took)}{note}")

    print(f"{args.rate} msg/s for {args.seconds} s over sockets, 10 guests + 10 WeChat users")
    await phase(members, {"guest"}, args.rate, args.seconds)
    report("1. baseline: guests only, nothing sent to WeChat")
    fake.post_delays[CHECK] = args.wechat_ms / 1000
    await phase(members, {"guest", "wechat"}, args.rate, args.seconds)
    report(f"2. guests and WeChat users, WeChat answering in {args.wechat_ms} ms")
    calls = len(fake.posts(CHECK))
    fake.post_delays[CHECK] = TIMEOUT_SECONDS + 1.5
    await phase(members, {"guest", "wechat"}, args.rate, args.seconds)
    report(
        f"3. WeChat hanging ({TIMEOUT_SECONDS + 1.5:g} s) past the {TIMEOUT_SECONDS:g} s timeout"
    )
    print(f"  msg_sec_check calls: {calls} in phase 2, {len(fake.posts(CHECK)) - calls} in phase 3")
    for reader in readers:
        reader.cancel()
    for member in members:
        await member.socket.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--wechat-ms", type=int, default=200)
    args = parser.parse_args()
    setup()
    from django.conf import settings

    from tests.fake_wechat import running_fake_wechat

    with running_fake_wechat() as fake:
        settings.WECHAT_API_BASE = fake.base_url
        asyncio.run(run(args, fake))


if __name__ == "__main__":
    main()
