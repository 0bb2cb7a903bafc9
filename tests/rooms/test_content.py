"""Content rules: matched after NFKC + case folding, ignoring spaces and punctuation inside
a term; reject (400 content_rejected, naming no term) or hold for review; on every text
others see."""

import pytest

from history.models import Message
from rooms.content import REJECT, REVIEW, Matcher, content_key, content_verdict
from rooms.models import ContentRule
from rooms.services import content_rule_save, content_rules_delete
from tests.factories import RoomFactory, join
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

REJECTED = {
    "detail": "This text can't be posted here: it goes against the room's rules.",
    "code": "content_rejected",
}


def rule(term, action="reject", room=None) -> ContentRule:
    return content_rule_save(rule=ContentRule(term=term, action=action, room=room))


@pytest.fixture
def room(db):
    return RoomFactory(name="Keynote")


@pytest.fixture
def author(room):
    return join(room, display_name="Ann")


def send(room, membership, body, client_id="c1"):
    return api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": body, "client_id": client_id}, format="json"
    )


@pytest.mark.parametrize(
    "text",
    [
        "buy SPAMCOIN now",
        "ｓｐａｍｃｏｉｎ",
        "s.p.a.m c-o-i-n!",
        "S P A M\u200bC O I N",
        "xSpamCoinx",
    ],
)
def test_terms_match_after_folding_and_ignoring_spaces_and_punctuation(text):
    assert Matcher([("Spam Coin", REJECT)]).verdict(content_key(text)) == REJECT


def test_matcher_prefers_reject_and_finds_nothing_in_clean_text():
    matcher = Matcher([("vpn", REVIEW), ("翻墙", REJECT), ("v.p.n", REJECT)])
    assert matcher.verdict(content_key("Ask about our VPN")) == REJECT  # the same key twice
    assert matcher.verdict(content_key("怎么 翻 墙")) == REJECT
    assert matcher.verdict(content_key("hello everyone")) is None
    assert Matcher([]).verdict(content_key("anything")) is None


def test_message_with_rejected_term_is_400_and_nothing_is_stored(room, author):
    rule("spamcoin")
    before = Message.objects.count()
    response = send(room, author, "Get S.P.A.M.C.O.I.N today")
    assert response.status_code == 400
    assert response.json() == REJECTED
    assert Message.objects.count() == before


def test_message_with_review_term_is_held_visible_to_its_sender_only(room, author):
    rule("discount", "review")
    reader = join(room, display_name="Rob")
    response = send(room, author, "Discount tickets here")
    assert response.status_code == 201
    mine = response.json()
    assert (mine["body"], mine["hidden"], mine["review"]) == (
        "Discount tickets here",
        True,
        "pending",
    )
    seq = mine["seq"]
    theirs = api_client_for(reader.user).get(f"/api/v1/rooms/{room.code}/messages/{seq}").json()
    assert (theirs["body"], theirs["hidden"], theirs["review"]) == ("", True, "pending")
    again = api_client_for(author.user).get(f"/api/v1/rooms/{room.code}/messages/{seq}").json()
    assert again["body"] == "Discount tickets here"


def test_room_rules_apply_to_their_room_only(room, author):
    rule("keynote spoiler", room=room)
    other = RoomFactory()
    stranger = join(other)
    assert send(room, author, "keynote spoiler: it ends well").json() == REJECTED
    assert send(other, stranger, "keynote spoiler: it ends well").status_code == 201


def test_a_deleted_rule_stops_matching(room, author):
    created = rule("spamcoin")
    assert content_verdict(text="spamcoin", room=room) == REJECT
    content_rules_delete(rules=[created])
    assert content_verdict(text="spamcoin", room=room) is None
    assert send(room, author, "spamcoin").status_code == 201


@pytest.mark.parametrize("action", ["reject", "review"])
def test_names_and_announcement_are_refused_by_any_rule(room, author, action):
    rule("badword", action)
    owner = api_client_for(room.owner)
    code = room.code
    rename = api_client_for(author.user).post(
        f"/api/v1/rooms/{code}/enter", {"display_name": "Mr Badword"}, format="json"
    )
    assert (rename.status_code, rename.json()) == (400, REJECTED)
    patch = owner.patch(f"/api/v1/rooms/{code}", {"name": "BADWORD hall"}, format="json")
    assert (patch.status_code, patch.json()) == (400, REJECTED)
    board = owner.put(f"/api/v1/rooms/{code}/announcement", {"text": "bad-word"}, format="json")
    assert (board.status_code, board.json()) == (400, REJECTED)
    created = owner.post("/api/v1/rooms", {"name": "The badword room"}, format="json")
    assert (created.status_code, created.json()) == (400, REJECTED)


@pytest.mark.parametrize("term", ["", "  ", "...", "x" * 101])
def test_a_rule_needs_a_real_term(term):
    from huiliao_site.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        rule(term)
    assert refused.value.code == "invalid_term"


def test_rules_change_reaches_a_process_through_the_cache_stamp(room, monkeypatch):
    """Another process's change: the row and the stamp, nothing in this process."""
    from django.core.cache import cache

    from rooms import content

    assert content_verdict(text="sneaky", room=room) is None
    ContentRule.objects.create(term="sneaky")
    cache.set(content.VERSION_KEY, "from another process", timeout=None)
    monkeypatch.setattr(content, "VERSION_CHECK_SECONDS", 0)  # as if it had passed
    assert content_verdict(text="sneaky", room=room) == REJECT
