#!/usr/bin/env python
"""Content rules: what 10,000 terms cost a message, beside the baselines of the same run.

    python bench/content_rules.py [--terms 10000] [--messages 2000]

Prints, per message:
- the matcher alone (rooms.content: one Aho–Corasick pass) against a loop over every term
  (what it replaced in design) and against no rules at all;
- the whole posting path (history.services.message_post on SQLite) with no rules and with
  the 10,000 terms, so "adds ≤ 1 ms per message" is read off one run.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANZI = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生"
# Terms are drawn from other characters than the messages, so the posting path never meets
# a rejection (the cost measured is the search, not the refusal).
TERM_HANZI = "赌博诈骗代开发票刷单返利贷款套现枪支毒品色情办证假币黑客走私洗钱传销邪教暴恐"
WORDS = ["keynote", "schedule", "coffee", "hall", "speaker", "slides", "question", "lunch"]


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "content.sqlite3")
    os.environ["HUILIAO_POST_RATE_COUNT"] = "1000000"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def random_term(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice(TERM_HANZI) for _ in range(rng.randint(3, 5)))
    letters = "bcdfghjklmnpqrstvwxz"  # no vowels: no English word of the messages holds one
    return "".join(rng.choice(letters) for _ in range(rng.randint(7, 12)))


def random_message(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(4, 12)):
        if rng.random() < 0.5:
            parts.append("".join(rng.choice(HANZI) for _ in range(rng.randint(2, 6))))
        else:
            parts.append(rng.choice(WORDS))
    return " ".join(parts) + "?"


def per_call_us(fn, texts) -> tuple[float, float]:
    samples = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def post_path_ms(room, users, texts) -> tuple[float, float]:
    from history.services import message_post

    samples = []
    for index, text in enumerate(texts):
        user = users[index % len(users)]
        start = time.perf_counter()
        message_post(room=room, user=user, body=text, client_id=f"b-{time.monotonic_ns()}")
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=2_000)
    args = parser.parse_args()
    setup()
    from accounts.models import User
    from history.services import member_enter
    from rooms.content import Matcher, content_key, content_rules_changed, content_verdict
    from rooms.models import ContentRule
    from rooms.services import room_create

    rng = random.Random(7)
    terms = {random_term(rng) for _ in range(args.terms * 2)}
    terms = sorted(terms)[: args.terms]
    texts = [random_message(rng) for _ in range(args.messages)]
    owner = User.objects.create(username="owner", nickname="Owner", kind="guest")
    room = room_create(owner=owner, name="Bench hall")
    users = []
    for n in range(20):
        user = User.objects.create(username=f"u{n}", nickname=f"Member {n}", kind="guest")
        member_enter(room=room, user=user)
        users.append(user)

    empty_median, empty_p99 = per_call_us(lambda text: content_verdict(text=text, room=room), texts)
    base_median, base_p99 = post_path_ms(room, users, texts[: args.messages // 2])

    started = time.perf_counter()
    ContentRule.objects.bulk_create(ContentRule(term=term, action="reject") for term in terms)
    content_rules_changed()
    content_verdict(text="warm up", room=room)  # compiles once
    compile_ms = (time.perf_counter() - started) * 1e3
    rules_median, rules_p99 = per_call_us(lambda text: content_verdict(text=text, room=room), texts)
    with_median, with_p99 = post_path_ms(room, users, texts[args.messages // 2 :])

    keys = [content_key(term) for term in terms]

    def loop_over_terms(text: str) -> bool:
        key = content_key(text)
        return any(term in key for term in keys)

    loop_median, loop_p99 = per_call_us(loop_over_terms, texts)
    matcher = Matcher([(term, "reject") for term in terms])
    hits = sum(matcher.verdict(content_key(text)) is not None for text in texts)

    n = len(terms)
    length = statistics.mean(map(len, texts))
    print(f"{n} terms, {len(texts)} messages (~{length:.0f} characters each)")
    print(f"  compile (load the rows, build the automaton): {compile_ms:.1f} ms, once per change")
    rows = [
        ("the check alone, per message", None, None, ""),
        ("  no rules (baseline)", empty_median, empty_p99, "µs"),
        (f"  {n} terms, one automaton", rules_median, rules_p99, "µs"),
        (f"  {n} terms, a loop over the terms", loop_median, loop_p99, "µs"),
        ("the posting path (message_post on SQLite), per message", None, None, ""),
        ("  no rules (baseline)", base_median, base_p99, "ms"),
        (f"  {n} terms", with_median, with_p99, "ms"),
    ]
    for label, median, p99, unit in rows:
        if median is None:
            print(f"  {label:<44}  median        p99")
        else:
            print(f"  {label:<44} {median:7.2f} {unit} {p99:8.2f} {unit}")
    print(f"  added by the rules to the posting path: {with_median - base_median:+.2f} ms (median)")
    print(f"  messages a term matched: {hits}")


if __name__ == "__main__":
    main()
