"""What people expect of a chat, on two phones: links, replies, @mentions, the length
counter, deleting a failed message, search, and the announcement folding to one line."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import off_loop
from tests.e2e.test_chat import bubbles, join_as, send
from tests.factories import RoomFactory

pytestmark = pytest.mark.e2e


def test_links_replies_and_mentions(new_context, screenshot):
    room = off_loop(RoomFactory, name="Hallway")
    ann = new_context().new_page()
    bob = new_context().new_page()
    join_as(ann, room, "Ann")
    join_as(bob, room, "Bob")

    send(ann, "Slides: https://example.com/slides?talk=1. Enjoy")
    link = bob.locator("li.msg-theirs a", has_text="https://example.com/slides?talk=1")
    expect(link).to_have_attribute("href", "https://example.com/slides?talk=1")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(bob.locator("li.msg-theirs .msg-bubble", has_text="Enjoy")).to_contain_text(". Enjoy")
    send(ann, "javascript:alert(1) is not a link")
    expect(bob.locator("li.msg-theirs", has_text="javascript:alert(1)").locator("a")).to_have_count(
        0
    )

    # Bob replies to Ann's message: a quote of it sits above his answer.
    bob.click("li.msg-theirs:has-text('Slides:')")
    bob.click("#message-actions button:has-text('Reply')")
    expect(bob.locator("#reply-bar")).to_contain_text("Replying to Ann: Slides:")
    send(bob, "Thanks!")
    answer = ann.locator("li.msg-theirs", has_text="Thanks!")
    expect(answer.locator(".msg-quote")).to_have_text(re.compile("^Ann: Slides:"))

    # Bob mentions Ann, picked from the suggestions; Ann's page marks it.
    bob.fill("#composer-input", "see you at lunch @An")
    expect(bob.locator("#mention-list li", has_text="Ann")).to_be_visible()
    bob.locator("#mention-list li", has_text="Ann").dispatch_event("mousedown")
    expect(bob.locator("#composer-input")).to_have_value("see you at lunch @Ann ")
    bob.press("#composer-input", "Enter")
    expect(ann.locator("li.msg-mention", has_text="see you at lunch @Ann")).to_be_visible()
    screenshot(ann, "mention")


def test_long_text_is_never_cut_and_a_failed_message_can_be_deleted(new_context):
    room = off_loop(RoomFactory, name="Essays")
    ann = new_context().new_page()
    join_as(ann, room, "Ann")
    ann.fill("#composer-input", "x" * 2001)
    expect(ann.locator("#composer-count")).to_have_text("2001 / 2000 characters: too long to send.")
    expect(ann.locator("#composer-send")).to_be_disabled()
    ann.press("#composer-input", "Enter")
    expect(ann.locator("#composer-input")).to_have_value("x" * 2001)  # still all there
    ann.fill("#composer-input", "y" * 1900)
    expect(ann.locator("#composer-count")).to_have_text("1900 / 2000")
    expect(ann.locator("#composer-send")).to_be_enabled()

    # The room closes behind Ann's back: her message fails, and she throws it away.
    from django.utils import timezone

    from rooms.models import Room

    off_loop(lambda: Room.objects.filter(pk=room.pk).update(closed_at=timezone.now()))
    ann.fill("#composer-input", "is anyone here?")
    ann.press("#composer-input", "Enter")
    failed = ann.locator("li.msg-mine[data-state=failed]", has_text="is anyone here?")
    expect(failed).to_be_visible()
    failed.locator("button", has_text="Delete").click()
    expect(bubbles(ann, "is anyone here?")).to_have_count(0)


def test_search_and_the_folded_announcement(new_context):
    from rooms.services import announcement_set

    room = off_loop(RoomFactory, name="Conference")
    schedule = "09:00 Keynote\n10:30 Coffee\n11:00 Workshops in halls A to F\n12:30 Lunch"
    off_loop(announcement_set, room=room, text=schedule, actor=None)
    ann = new_context().new_page()
    join_as(ann, room, "Ann")
    box = ann.locator("#announcement")
    # Unread: open; a tap marks it read and folds it to one line; another opens it.
    expect(box).not_to_have_class(re.compile("announcement-collapsed"))
    box.click()
    expect(box).to_have_class(re.compile("announcement-collapsed"))
    one_line = box.bounding_box()["height"]
    box.click()
    expect(box).not_to_have_class(re.compile("announcement-collapsed"))
    assert box.bounding_box()["height"] > one_line * 1.5

    for text in ("Lunch is in hall B", "Where is the coffee?", "Slides are online"):
        send(ann, text)
    expect(bubbles(ann, "Slides are online")).to_have_count(1)
    ann.click("#search-button")
    ann.fill("#search-input", "HALL")
    ann.press("#search-input", "Enter")
    expect(ann.locator("#search-results li")).to_have_count(1)
    expect(ann.locator("#search-results li")).to_contain_text("Lunch is in hall B")
    ann.locator("#search-results li").click()
    expect(ann.locator("#search-dialog")).to_be_hidden()
