"""Two phones swap contact cards by mutual consent."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import off_loop
from tests.e2e.test_chat import join_as
from tests.factories import RoomFactory

pytestmark = pytest.mark.e2e


def set_card(page, card: str) -> None:
    page.click("#menu-button")
    page.fill("#card-input", card)
    page.click("#rename-save")
    expect(page.locator("#menu-dialog")).to_be_hidden()


def test_two_phones_swap_contacts_only_when_both_agree(new_context, screenshot):
    room = off_loop(RoomFactory, name="Meetup")
    ann = new_context().new_page()
    bob = new_context().new_page()
    join_as(ann, room, "Ann")
    join_as(bob, room, "Bob")
    set_card(ann, "WeChat: ann_wx")
    set_card(bob, "bob@example.com")

    bob.click("#members-button")
    bob.locator(".member-row", has_text="Ann").locator("button", has_text="Swap contacts").click()
    expect(bob.locator(".toast")).to_have_text("Asked. They decide whether to swap.")
    bob.keyboard.press("Escape")

    expect(ann.locator(".toast", has_text="Bob would like to swap contacts.")).to_be_visible()
    expect(ann.locator("#contacts-count")).to_have_text("1")
    ann.click("#contacts-button")
    row = ann.locator(".contact-row", has_text="Bob")
    expect(row).not_to_contain_text("bob@example.com")
    row.locator("button", has_text="Accept").click()
    expect(ann.locator(".contact-row", has_text="Bob")).to_contain_text("bob@example.com")
    screenshot(ann, "contacts")

    expect(bob.locator(".toast", has_text="You and Ann swapped contacts.")).to_be_visible()
    bob.click("#contacts-button")
    expect(bob.locator(".contact-row", has_text="Ann")).to_contain_text("WeChat: ann_wx")
