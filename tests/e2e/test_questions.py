"""Q&A on two phones, and the projector screen at 1920×1080."""

import re

import pytest
from playwright.sync_api import expect

from rooms.qr import screen_path
from tests.e2e.conftest import off_loop
from tests.e2e.test_chat import join_as
from tests.e2e.test_moderation import organiser_page
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.e2e


def open_questions(page) -> None:
    page.click("#tab-questions")
    expect(page.locator("#questions-panel")).to_be_visible()


def ask(page, body: str, anonymous: bool = False) -> None:
    page.fill("#ask-input", body)
    if anonymous:
        page.check("#ask-anonymous")
    page.click("#ask-send")
    expect(page.locator("#ask-input")).to_have_value("")


def question(page, body: str):
    return page.locator("li.question", has_text=body)


def test_questions_asked_voted_and_answered_live_on_two_phones(
    new_context, daphne_server, screenshot
):
    owner = off_loop(UserFactory, nickname="Olga")
    room = off_loop(RoomFactory, owner=owner, name="Keynote")
    olga = organiser_page(new_context, daphne_server, room)
    ann = new_context().new_page()
    join_as(ann, room, "Ann")
    open_questions(ann)
    open_questions(olga)
    expect(ann.locator("#questions-empty")).to_be_visible()

    ask(ann, "Will the slides be shared?")
    ask(ann, "Is there a recording?", anonymous=True)
    # The organiser's phone hears both live, with the Live Q&A badge; the room's frame
    # names nobody, the organiser's list (read again) names the asker.
    expect(question(olga, "Will the slides be shared?")).to_be_visible()
    expect(question(olga, "Is there a recording?").locator(".question-meta")).to_have_text(
        "Anonymous"
    )
    expect(question(ann, "Is there a recording?").locator(".question-meta")).to_have_text(
        "Ann (Anonymous)"
    )
    expect(olga.locator("#qa-badge")).to_be_visible()
    olga.reload()
    open_questions(olga)
    expect(question(olga, "Is there a recording?").locator(".question-meta")).to_have_text(
        "Ann (Anonymous)"
    )

    # Olga votes for the second question: it moves to the top on both phones.
    question(olga, "Is there a recording?").locator(".vote-button").click()
    for page in (olga, ann):
        expect(question(page, "Is there a recording?").locator(".vote-count")).to_have_text("1")
        expect(page.locator("li.question").first).to_contain_text("Is there a recording?")
    expect(question(olga, "Is there a recording?").locator(".vote-button")).to_have_attribute(
        "aria-pressed", "true"
    )
    screenshot(ann, "questions")

    # Answered: it leaves the open list everywhere and shows under Answered.
    question(olga, "Will the slides be shared?").locator("button", has_text="Mark answered").click()
    for page in (olga, ann):
        expect(question(page, "Will the slides be shared?")).to_have_count(0)
    ann.select_option("#qa-status", "answered")
    expect(question(ann, "Will the slides be shared?").locator(".question-meta")).to_have_text(
        re.compile("Answered$")
    )

    # Back in the chat, the organiser turns a message into a question.
    ann.click("#tab-chat")
    expect(ann.locator("#composer")).to_be_visible()
    ann.fill("#composer-input", "What about accessibility?")
    ann.press("#composer-input", "Enter")
    olga.click("#tab-chat")
    olga.click("li.msg-theirs:has-text('What about accessibility?')")
    olga.click("#message-actions button:has-text('Make it a question')")
    expect(olga.locator(".toast")).to_have_text("It is now a question.")
    open_questions(olga)
    expect(question(olga, "What about accessibility?")).to_be_visible()


def test_projector_screen_at_1920_by_1080_updates_live(new_context, screenshot):
    from history import services
    from rooms.services import announcement_set
    from tests.factories import join

    room = off_loop(RoomFactory, name="PyCon China keynote")
    off_loop(announcement_set, room=room, text="Coffee break at 10:30 in hall B", actor=None)
    author = off_loop(join, room, display_name="Ann")
    off_loop(
        services.question_ask,
        room=room,
        user=author.user,
        body="Will there be a recording?",
        client_id="q1",
    )
    screen = new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1).new_page()
    screen.goto(screen_path(room))
    expect(screen.locator(".screen-code")).to_have_text(room.code)
    expect(screen.locator(".screen-qr")).to_be_visible()
    expect(screen.locator("#screen-announcement")).to_have_text("Coffee break at 10:30 in hall B")
    expect(screen.locator("#screen-questions li")).to_have_count(1)
    # Big enough for the back of a hall: the code and questions in large type, the QR
    # code a third of the screen wide.
    code_px = screen.eval_on_selector(
        ".screen-code", "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    question_px = screen.eval_on_selector(
        "#screen-questions li", "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    qr_width = screen.eval_on_selector(".screen-qr", "e => e.getBoundingClientRect().width")
    assert code_px >= 80 and question_px >= 40 and qr_width >= 500
    background = screen.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(11, 17, 16)"

    # A new question and a vote show up without touching the screen.
    second, _ = off_loop(
        services.question_ask,
        room=room,
        user=author.user,
        body="Where are the slides?",
        client_id="q2",
    )
    voter = off_loop(join, room)
    off_loop(services.question_vote, question=second, user=voter.user, up=True)
    expect(screen.locator("#screen-questions li").first).to_contain_text("Where are the slides?")
    expect(screen.locator("#screen-questions li").first).to_contain_text("▲ 1")
    screenshot(screen, "screen")
