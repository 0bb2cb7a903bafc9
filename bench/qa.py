#!/usr/bin/env python
"""Q&A under a hall voting at once: 1,000 members, 50 questions, one Daphne process.

    python bench/qa.py [--database sqlite|postgres] [--members 1000] [--questions 50]
                       [--votes-each 5] [--concurrency 32]

Every member holds a socket (our minimal client, bench/fanout.py's) and votes over REST
for `--votes-each` random questions, as fast as `--concurrency` connections allow. Run
twice in one process run, on the same data shape: with the room hub's coalescing
(HUILIAO_VOTES_COALESCE_MS=500, the default) and without it (0: one frame per vote, the
baseline). Prints, for each:

- votes stored per second (and that the stored counts add up);
- `question_votes` frames per socket and per vote (sent to all sockets);
- p50/p99 from a vote's request to every socket having seen a count that includes it.
"""

import argparse
import asyncio
import bisect
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import (  # noqa: E402 (bench/ is this script's own directory)
    Client,
    Database,
    Server,
    cleanup_redis,
    make_room,
    open_clients,
    raise_open_files_limit,
    server_env,
)


class VoteWatcher:
    """What every socket saw of each question's count: (time, votes) in arrival order."""

    def __init__(self):
        self.seen: dict[int, dict[str, list[tuple[float, int]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.frames = 0

    def attach(self, clients: list[Client]) -> None:
        for index, client in enumerate(clients):
            client.on_text = self._on_text(index, client.on_text)

    def _on_text(self, index: int, original):
        import json

        def on_text(payload: bytes) -> None:
            if payload.startswith(b'{"type":"question_votes"'):
                frame = json.loads(payload)
                self.seen[index][frame["id"]].append((time.perf_counter(), frame["votes"]))
                self.frames += 1
                return
            original(payload)

        return on_text

    def index(self) -> None:
        """Per socket and question: the running highest count and when it was reached (the
        votes only grow; frames of concurrent votes may arrive out of order)."""
        self.reached: list[dict[str, tuple[list[int], list[float]]]] = []
        for per_question in self.seen.values():
            table = {}
            for question_id, seen in per_question.items():
                counts, times, highest = [], [], -1
                for at, count in seen:
                    if count > highest:
                        highest = count
                        counts.append(count)
                        times.append(at)
                table[question_id] = (counts, times)
            self.reached.append(table)

    def latency(self, question_id: str, votes: int, sent: float) -> float | None:
        """When the last socket saw a count of at least `votes`."""
        latest = 0.0
        for table in self.reached:
            counts, times = table.get(question_id, ([], []))
            at = bisect.bisect_left(counts, votes)
            if at == len(counts):
                return None
            latest = max(latest, times[at])
        return latest - sent


def make_questions(code: str, tokens: list[str], count: int) -> list[str]:
    from rest_framework.authtoken.models import Token

    from history.services import question_ask
    from rooms.models import Room

    room = Room.objects.get(code=code)
    author = Token.objects.get(key=tokens[1]).user
    return [
        question_ask(room=room, user=author, body=f"Question {n}?", client_id=f"q{n}")[0].public_id
        for n in range(count)
    ]


async def vote_all(port: int, code: str, plan: list[tuple[str, str]], concurrency: int):
    import httpx

    results: list[tuple[str, int, float]] = []
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

        async def worker():
            while not queue.empty():
                token, question_id = queue.get_nowait()
                sent = time.perf_counter()
                response = await http.post(
                    f"/api/v1/rooms/{code}/questions/{question_id}/vote",
                    headers={"Authorization": f"Token {token}"},
                    timeout=60,
                )
                response.raise_for_status()
                results.append((question_id, response.json()["votes"], sent))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - started


def prepare(args) -> tuple[str, list[str], list[str]]:
    """The room, its members' tokens and its questions, made before any event loop runs
    (this process publishes nothing: there is nobody to hear it)."""
    code, tokens = make_room(args.members, "token")
    return code, tokens, make_questions(code, tokens, args.questions)


async def one_run(database: Database, args, coalesce_ms: int, label: str, data) -> None:
    code, tokens, questions = data
    env = server_env(
        database,
        None,
        HUILIAO_VOTES_COALESCE_MS=str(coalesce_ms),
        HUILIAO_VOTE_RATE="1000000/min",
        HUILIAO_QUESTION_RATE="1000000/min",
    )
    server = Server(env, f"qa-{coalesce_ms}")
    try:
        clients, joined, _refused = await open_clients(server.port, code, "token", tokens, None)
        watcher = VoteWatcher()
        watcher.attach(clients)
        rng = random.Random(11)
        plan = [
            (token, question)
            for token in tokens
            for question in rng.sample(questions, args.votes_each)
        ]
        rng.shuffle(plan)
        cpu_before = server.cpu_seconds()
        results, elapsed = await vote_all(server.port, code, plan, args.concurrency)
        await asyncio.sleep(max(1.0, coalesce_ms / 1000 * 3))  # the last flushes
        cpu = server.cpu_seconds() - cpu_before
        watcher.index()
        latencies = []
        missing = 0
        for question_id, votes, sent in results:
            took = watcher.latency(question_id, votes, sent)
            if took is None:
                missing += 1
            else:
                latencies.append(took * 1000)
        from history.models import Question

        stored = sum(Question.objects.filter(room__code=code).values_list("votes", flat=True))
        latencies.sort()
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan")
        per_socket = watcher.frames / len(clients)
        print(f"{label} (HUILIAO_VOTES_COALESCE_MS={coalesce_ms})")
        print(f"  {len(clients)} sockets joined in {joined:.1f} s")
        print(
            f"  votes: {len(results)} in {elapsed:.1f} s = {len(results) / elapsed:.0f} votes/s "
            f"stored (counts add up to {stored}); server CPU {cpu:.1f} s"
        )
        print(
            f"  question_votes frames: {per_socket:.0f} per socket, "
            f"{watcher.frames / len(results):.1f} per vote to all sockets "
            f"({per_socket / len(results):.3f} per vote per socket)"
        )
        print(
            f"  vote → every socket sees it: p50 {statistics.median(latencies):.0f} ms, "
            f"p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms; never seen: {missing}"
        )
        for client in clients:
            client.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--votes-each", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    raise_open_files_limit(args.members * 2 + 1000)
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", flush=True)
    database = Database(args.database)
    database.create()
    try:
        asyncio.run(one_run(database, args, 500, "coalesced", prepare(args)))
        asyncio.run(one_run(database, args, 0, "baseline: a frame per vote", prepare(args)))
    finally:
        database.drop()
        cleanup_redis(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
