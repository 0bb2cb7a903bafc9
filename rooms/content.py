"""Content rules: terms that never reach the room as written (rooms.models.ContentRule).

A text and every term are compared by `content_key`: NFKC, case folding, and nothing but
letters, digits and marks, so "B.A.D", "ｂａｄ" and "b a d" all contain "bad". All of a
room's terms (the global ones and its own) are matched in one pass with an Aho–Corasick
automaton, compiled once per change of the rules and kept by each process: 10,000 terms
cost a message what ten do (bench/content_rules.py).

A change made in this process is seen at once; other processes see it within
`VERSION_CHECK_SECONDS`, through a version stamp in the shared cache.
"""

import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import ahocorasick
from django.core.cache import cache

from huiliao_site.errors import InvalidInput
from rooms.models import ContentRule, Room

logger = logging.getLogger(__name__)

REJECT = ContentRule.Action.REJECT
REVIEW = ContentRule.Action.REVIEW

VERSION_KEY = "content-rules:version"
VERSION_CHECK_SECONDS = 1.0
ROOMS_KEPT = 1000  # compiled per-room matchers a process keeps (least recently used go)

# Unicode categories that count in a comparison: letters, marks and numbers. Spaces,
# punctuation, symbols and invisible characters are what people put inside a term to
# slip it past a filter.
_KEPT_CATEGORIES = ("L", "M", "N")


def content_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(char for char in folded if unicodedata.category(char)[0] in _KEPT_CATEGORIES)


class Matcher:
    """Every term of a set of rules in one automaton; `verdict` says the strictest action
    among the terms found in a text (reject before review), or None."""

    def __init__(self, rules: list[tuple[str, str]]):
        self.automaton = None
        actions: dict[str, str] = {}
        for term, action in rules:
            key = content_key(term)
            if key and actions.get(key) != REJECT:
                actions[key] = action
        if actions:
            automaton = ahocorasick.Automaton()
            for key, action in actions.items():
                automaton.add_word(key, action)
            automaton.make_automaton()
            self.automaton = automaton

    def verdict(self, key: str) -> str | None:
        if self.automaton is None or not key:
            return None
        found = None
        for _end, action in self.automaton.iter(key):
            if action == REJECT:
                return REJECT
            found = REVIEW
        return found


@dataclass
class _Compiled:
    version: object
    matcher: Matcher


class _Rules:
    """This process's compiled matchers: one for the global rules, one per room that has
    rules of its own, each rebuilt when the version stamp moves."""

    def __init__(self):
        self.lock = threading.Lock()
        self.version: object = None
        self.checked_at = float("-inf")
        self.global_rules: _Compiled | None = None
        self.rooms: OrderedDict[int, _Compiled] = OrderedDict()

    def current_version(self) -> object:
        now = time.monotonic()
        if now - self.checked_at >= VERSION_CHECK_SECONDS:
            try:
                self.version = cache.get(VERSION_KEY, 0)
            except Exception:  # the cache is down: keep the rules we compiled
                logger.warning("content rules: the cache is unreachable; keeping these rules")
            self.checked_at = now
        return self.version

    def changed(self) -> None:
        stamp = time.time_ns()
        try:
            cache.set(VERSION_KEY, stamp, timeout=None)
        except Exception:  # other processes catch up when the cache is back
            logger.warning("content rules: could not tell other processes of a change")
        self.version, self.checked_at = stamp, time.monotonic()

    def matchers(self, room: Room | None) -> list[Matcher]:
        version = self.current_version()
        with self.lock:
            if self.global_rules is None or self.global_rules.version != version:
                rules = ContentRule.objects.filter(room__isnull=True).values_list("term", "action")
                self.global_rules = _Compiled(version, Matcher(list(rules)))
            found = [self.global_rules.matcher]
            if room is None or room.pk is None:
                return found
            compiled = self.rooms.get(room.pk)
            if compiled is None or compiled.version != version:
                rules = ContentRule.objects.filter(room=room).values_list("term", "action")
                compiled = self.rooms[room.pk] = _Compiled(version, Matcher(list(rules)))
                while len(self.rooms) > ROOMS_KEPT:
                    self.rooms.popitem(last=False)
            self.rooms.move_to_end(room.pk)
            return [*found, compiled.matcher]


_rules = _Rules()


def content_rules_changed() -> None:
    """Call after any change to ContentRule rows (rooms.services does)."""
    _rules.changed()


def content_verdict(*, text: str, room: Room | None) -> str | None:
    """REJECT, REVIEW, or None when no rule matches `text` in `room` (None: global rules)."""
    key = content_key(text)
    verdict = None
    for matcher in _rules.matchers(room):
        found = matcher.verdict(key)
        if found == REJECT:
            return REJECT
        verdict = verdict or found
    return verdict


def content_rejected() -> InvalidInput:
    # Naming the term would teach people how to spell around it.
    return InvalidInput(
        "This text can't be posted here: it goes against the room's rules.",
        code="content_rejected",
    )


def content_check_shown(*, text: str, room: Room | None) -> None:
    """For texts nobody can hold for review (names, the announcement): any rule refuses."""
    if content_verdict(text=text, room=room) is not None:
        raise content_rejected()
