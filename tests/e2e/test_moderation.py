"""Running the room from the room, on two phones: the organiser's and an attendee's."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.e2e.conftest import off_loop
from tests.e2e.test_chat import bubbles, join_as, send
from tests.factories import RoomFactory, UserFactory, join, post

pytestmark = pytest.mark.e2e

HIDDEN = "This message was hidden by a moderator."


def log_in(context, user, base_url: str) -> None:
    """The organiser's browser, signed in (as the admin's login would leave it)."""

    def session_key() -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    context.add_cookies([{"name": "sessionid", "value": off_loop(session_key), "url": base_url}])


@pytest.fixture
def organiser_room(new_context):
    owner = off_loop(UserFactory, nickname="Olga")
    return off_loop(RoomFactory, owner=owner, name="Keynote")


def organiser_page(new_context, daphne_server, room):
    context = new_context()
    log_in(context, room.owner, daphne_server.http_base)
    page = context.new_page()
    page.goto(f"/r/{room.code}/")
    expect(page.locator("#composer")).to_be_visible()
    page.wait_for_function("() => !document.getElementById('connection').textContent")
    return page


def test_report_reaches_the_queue_hide_mute_and_slow_mode(
    new_context, daphne_server, organiser_room, screenshot
):
    room = organiser_room
    olga = organiser_page(new_context, daphne_server, room)
    ann = new_context().new_page()
    join_as(ann, room, "Ann")
    carl = off_loop(join, room, display_name="Carl")
    off_loop(post, room, carl.user, "Cheap watches at example.com")

    # Ann reports Carl's message.
    ann.click("li.msg-theirs:has-text('Cheap watches')")
    ann.click("#message-actions button:has-text('Report…')")
    ann.select_option("#report-reason", "spam")
    ann.fill("#report-text", "an advert")
    ann.click("#report-send")
    expect(ann.locator(".toast")).to_have_text("Thank you. The moderators will look at it.")

    # It reaches the organiser's queue, who hides it; Ann sees the placeholder live.
    olga.click("#queue-button")
    item = olga.locator(".queue-item")
    expect(item.locator(".queue-body")).to_have_text("Cheap watches at example.com")
    expect(item.locator(".queue-why")).to_have_text("Reports: spam × 1 · “an advert”")
    screenshot(olga, "queue")
    item.locator("button", has_text=re.compile("^Hide from everyone$")).click()
    expect(olga.locator(".queue-item")).to_have_count(0)
    olga.keyboard.press("Escape")
    expect(bubbles(ann, HIDDEN)).to_have_count(1)
    expect(bubbles(ann, "Cheap watches at example.com")).to_have_count(0)

    # The organiser mutes Ann from the members sheet: her page says why she cannot post.
    olga.click("#members-button")
    olga.locator(".member-row", has_text="Ann").locator("button", has_text="Mute 10 min").click()
    expect(
        olga.locator(".member-row", has_text="Ann").locator("button", has_text="Unmute")
    ).to_be_visible()
    expect(ann.locator("#readonly-bar")).to_have_text(re.compile(r"^You are muted until "))
    expect(ann.locator("#composer")).to_be_hidden()
    screenshot(ann, "muted")
    olga.locator(".member-row", has_text="Ann").locator("button", has_text="Unmute").click()
    expect(ann.locator("#composer")).to_be_visible()
    olga.keyboard.press("Escape")

    # Slow mode: after Ann's message, her send button counts down.
    olga.click("#menu-button")
    olga.select_option("#slow-mode-select", "30")
    expect(olga.locator(".toast")).to_have_text("Saved.")
    olga.keyboard.press("Escape")
    expect(ann.locator("#composer-input")).to_have_attribute(
        "placeholder", "Slow mode: one message every 30 s."
    )
    send(ann, "One question, please")
    expect(bubbles(olga, "One question, please")).to_have_count(1)
    expect(ann.locator("#composer-send")).to_have_text(re.compile(r"^Send \((29|30)\)$"))
    expect(ann.locator("#composer-send")).to_be_disabled()
    screenshot(ann, "slow-mode")


def test_close_asks_naming_the_room_and_reopen_works(
    new_context, daphne_server, organiser_room, screenshot
):
    room = organiser_room
    olga = organiser_page(new_context, daphne_server, room)
    ann = new_context().new_page()
    join_as(ann, room, "Ann")

    olga.click("#menu-button")
    olga.click("#close-button")
    expect(olga.locator("#close-title")).to_have_text("Close “Keynote”?")
    screenshot(olga, "confirm")
    # Changing one's mind closes nothing.
    olga.click("#close-dialog button:has-text('Keep it open')")
    send(ann, "still open")
    expect(bubbles(olga, "still open")).to_have_count(1)

    olga.click("#menu-button")
    olga.click("#close-button")
    olga.click("#close-confirm")
    for page in (olga, ann):
        expect(page.locator("#closed-notice")).to_be_visible()
        expect(page.locator("#composer")).to_be_hidden()
    expect(ann.locator("#reopen-button")).to_have_count(0)  # attendees cannot reopen

    olga.click("#reopen-button")
    expect(olga.locator("#composer")).to_be_visible()
    ann.reload()
    expect(ann.locator("#composer")).to_be_visible()
    send(ann, "we are back")
    expect(bubbles(olga, "we are back")).to_have_count(1)


def test_broadcast_room_shows_attendees_a_read_only_bar(new_context, daphne_server, organiser_room):
    room = organiser_room
    olga = organiser_page(new_context, daphne_server, room)
    ann = new_context().new_page()
    join_as(ann, room, "Ann")
    olga.click("#menu-button")
    olga.check("#broadcast-toggle")
    expect(olga.locator(".toast")).to_have_text("Saved.")
    expect(ann.locator("#readonly-bar")).to_have_text(
        "Only the organiser and moderators can post in this room."
    )
    expect(ann.locator("#composer")).to_be_hidden()
    olga.keyboard.press("Escape")
    send(olga, "Keynote starts at 9")
    expect(bubbles(ann, "Keynote starts at 9")).to_have_count(1)


def test_a_room_read_older_than_a_live_change_does_not_undo_it(
    new_context, daphne_server, organiser_room
):
    # Ann's page reads the room after its socket's hello. Here that read is answered as the
    # room was then, but only after the organiser has switched to broadcast and Ann's
    # page has heard so live: the older answer must not bring the composer back.
    room = organiser_room
    olga = organiser_page(new_context, daphne_server, room)
    ann = new_context().new_page()
    held = []
    ann.route(re.compile(rf".*/api/v1/rooms/{room.code}$"), lambda route: held.append(route))
    join_as(ann, room, "Ann")
    for _ in range(100):
        if held:
            break
        ann.wait_for_timeout(50)
    assert len(held) == 1
    stale = held[0].fetch()
    olga.click("#menu-button")
    olga.check("#broadcast-toggle")
    expect(olga.locator(".toast")).to_have_text("Saved.")
    expect(ann.locator("#readonly-bar")).to_have_text(
        "Only the organiser and moderators can post in this room."
    )
    held[0].fulfill(response=stale)
    ann.wait_for_timeout(500)
    expect(ann.locator("#readonly-bar")).to_be_visible()
    expect(ann.locator("#composer")).to_be_hidden()


def test_attendee_recalls_and_sees_why_a_message_is_held_or_refused(new_context, screenshot):
    from rooms.models import ContentRule
    from rooms.services import content_rule_save

    room = off_loop(RoomFactory, name="Rules hall")
    # Before anyone enters: the server compiles this room's rules when it first needs them.
    off_loop(content_rule_save, rule=ContentRule(term="discount", action="review", room=room))
    off_loop(content_rule_save, rule=ContentRule(term="spamcoin", action="reject", room=room))
    ann = new_context().new_page()
    bob = new_context().new_page()
    join_as(ann, room, "Ann")
    join_as(bob, room, "Bob")

    send(ann, "Discount tickets at the door")
    held = ann.locator("li.msg-mine", has_text="Discount tickets at the door")
    expect(held.locator(".msg-meta")).to_contain_text(
        "Waiting for a moderator's review: only you can see it for now."
    )
    expect(bubbles(bob, "A message is waiting for a moderator's review.")).to_have_count(1)
    expect(bubbles(bob, "Discount tickets at the door")).to_have_count(0)

    send(ann, "buy S.P.A.M.C.O.I.N")
    refused = ann.locator("li.msg-mine", has_text="buy S.P.A.M.C.O.I.N")
    expect(refused).to_have_attribute("data-state", "failed")
    expect(refused.locator(".msg-meta")).to_contain_text(
        "This goes against the room's rules, so it was not sent."
    )

    send(ann, "wrong room, sorry")
    expect(bubbles(bob, "wrong room, sorry")).to_have_count(1)
    ann.click("li.msg-mine:has-text('wrong room, sorry')")
    ann.click("#message-actions button:has-text('Recall')")
    expect(bubbles(ann, "You recalled a message.")).to_have_count(1)
    expect(bubbles(bob, "A message was recalled.")).to_have_count(1)
    expect(bubbles(bob, "wrong room, sorry")).to_have_count(0)
    screenshot(bob, "recalled")
