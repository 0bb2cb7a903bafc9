"""Attendees in real browsers: joining, chatting live, history paging, reconnecting."""

import re

import pytest
from playwright.sync_api import expect

from accounts.services import token_for
from history import services as history_services
from rooms.models import Membership
from tests.e2e.conftest import off_loop
from tests.factories import RoomFactory, join

pytestmark = pytest.mark.e2e


def join_as(page, room, name: str) -> None:
    page.goto(f"/r/{room.code}/")
    page.fill("#join-name", name)
    page.click("#join-button")
    expect(page.locator("#composer")).to_be_visible()
    # Live: the socket's hello has come (it brings the online count).
    expect(page.locator("#member-count")).to_contain_text(re.compile("online|在线"), timeout=15_000)


def send(page, body: str) -> None:
    page.fill("#composer-input", body)
    page.press("#composer-input", "Enter")


def bubbles(page, body: str):
    return page.locator(".msg-bubble", has_text=re.compile(f"^{re.escape(body)}$"))


def shown_seqs(page) -> list[int]:
    return [
        int(seq)
        for seq in page.eval_on_selector_all(
            "li.msg[data-seq]", "els => els.map(e => e.dataset.seq)"
        )
    ]


def test_two_guests_see_each_others_messages_live(new_context, screenshot):
    room = off_loop(RoomFactory, name="Keynote hall")
    # Ann on a phone, Bob on a desktop.
    ann = new_context().new_page()
    bob = new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1).new_page()
    join_as(ann, room, "Ann")
    join_as(bob, room, "Bob")
    # Ann's page hears Bob arrive without a reload.
    expect(ann.locator(".msg-system-text", has_text="Bob joined")).to_be_visible()
    expect(ann.locator("#member-count")).to_have_text("3 members · 2 online")

    send(ann, "Hello from Ann")
    send(bob, "Hi Ann, Bob here")

    for page in (ann, bob):
        expect(bubbles(page, "Hello from Ann")).to_have_count(1)
        expect(bubbles(page, "Hi Ann, Bob here")).to_have_count(1)
    # Own messages on the right and sent; the other's on the left with their name.
    mine = ann.locator("li.msg-mine", has_text="Hello from Ann")
    expect(mine).to_have_attribute("data-state", "sent")
    theirs = ann.locator("li.msg-theirs", has_text="Hi Ann, Bob here")
    expect(theirs.locator(".msg-name")).to_have_text("Bob")
    # Beside it Bob's preset picture for this room, never an account photo.
    bob_avatar = off_loop(lambda: Membership.objects.get(room=room, display_name="Bob").avatar)
    expect(theirs.locator("img.msg-avatar")).to_have_attribute(
        "src", f"/static/huiliao/avatars/{bob_avatar}.svg"
    )

    # The organiser changes the announcement: it appears live, highlighted.
    owner_token = off_loop(token_for, user=room.owner)
    changed = ann.context.request.put(
        f"/api/v1/rooms/{room.code}/announcement",
        headers={"Authorization": f"Token {owner_token}"},
        data={"text": "Lunch at 12:30 in hall B"},
    )
    assert changed.status == 200
    for page in (ann, bob):
        expect(page.locator("#announcement-text")).to_have_text("Lunch at 12:30 in hall B")
        expect(page.locator("#announcement")).to_have_class(re.compile("announcement-new"))

    # The organiser speaks: their messages carry a badge that no display name can copy.
    spoke = ann.context.request.post(
        f"/api/v1/rooms/{room.code}/messages",
        headers={"Authorization": f"Token {owner_token}"},
        data={"body": "Welcome, everyone", "client_id": "owner-1"},
    )
    assert spoke.status == 201
    welcome = ann.locator("li.msg-theirs", has_text="Welcome, everyone")
    expect(welcome.locator(".msg-badge-owner")).to_have_text("Organiser")
    # Ann tries to pass for the organiser: the name is taken, whatever its case.
    owner_name = off_loop(lambda: Membership.objects.get(room=room, user=room.owner).display_name)
    ann.click("#menu-button")
    ann.fill("#rename-input", owner_name.upper())
    ann.click("#rename-save")
    expect(ann.locator("#rename-error")).to_have_text(
        "Someone in this room already uses this name. Choose another."
    )
    ann.keyboard.press("Escape")
    expect(ann.locator("#menu-dialog")).to_be_hidden()

    # Bob renames himself; his next message carries the new name.
    bob.click("#menu-button")
    bob.fill("#rename-input", "Robert")
    picked = "moon" if bob_avatar != "moon" else "sun"
    bob.click(f".avatar-choice:has(input[value={picked}])")
    bob.click("#rename-save")
    expect(bob.locator("#menu-dialog")).to_be_hidden()
    send(bob, "Call me Robert")
    renamed = ann.locator("li.msg-theirs", has_text="Call me Robert")
    expect(renamed.locator(".msg-name")).to_have_text("Robert")
    expect(renamed.locator(".msg-name")).to_be_visible()
    expect(renamed.locator("img.msg-avatar")).to_have_attribute(
        "src", f"/static/huiliao/avatars/{picked}.svg"
    )
    expect(renamed.locator("img.msg-avatar")).to_be_visible()
    screenshot(ann, "ann")
    screenshot(bob, "bob")

    # Bob leaves: Ann sees him go, and Bob is back at the start page.
    bob.on("dialog", lambda dialog: dialog.accept())
    bob.click("#menu-button")
    bob.click("#leave-button")
    bob.wait_for_url(re.compile(r"/$"))
    expect(ann.locator(".msg-system-text", has_text="Robert left")).to_be_visible()
    expect(ann.locator("#member-count")).to_have_text("2 members · 1 online")


def test_history_shows_newest_30_and_older_on_scroll_up(new_context, screenshot, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    room = off_loop(RoomFactory, name="Long talk")

    def talk():
        talker = join(room, display_name="Talker").user
        for n in range(1, 121):
            history_services.message_post(
                room=room, user=talker, body=f"message {n}", client_id=f"c{n}"
            )
        return token_for(user=talker)

    talker_token = off_loop(talk)
    room.refresh_from_db()
    last = room.last_seq  # 120 messages and the talker's "joined" notice

    page = new_context().new_page()
    join_as(page, room, "Late reader")
    # The newest 30, the last of which is the reader's own "joined" notice.
    expect(page.locator(".msg-system-text", has_text="Late reader joined")).to_be_visible()
    assert shown_seqs(page) == list(range(last - 28, last + 2))
    expect(bubbles(page, "message 120")).to_be_visible()
    expect(bubbles(page, "message 90")).to_have_count(0)

    page.eval_on_selector("#messages", "el => { el.scrollTop = 0; }")
    expect(bubbles(page, "message 90")).to_have_count(1)
    assert shown_seqs(page) == list(range(last - 58, last + 2))

    # Someone talks while the reader is up in the history: a button, not a jump.
    posted = page.context.request.post(
        f"/api/v1/rooms/{room.code}/messages",
        headers={"Authorization": f"Token {talker_token}"},
        data={"body": "message 121", "client_id": "c121"},
    )
    assert posted.status == 201
    expect(page.locator("#new-below")).to_be_visible()
    screenshot(page, "new-below")
    page.click("#new-below")
    expect(page.locator("#new-below")).to_be_hidden()
    expect(bubbles(page, "message 121")).to_be_in_viewport()

    # Keep scrolling to the very beginning.
    for _ in range(8):
        if page.locator(".beginning").count():
            break
        page.eval_on_selector("#messages", "el => { el.scrollTop = 0; }")
        page.wait_for_timeout(300)
    expect(page.locator(".beginning")).to_be_visible()
    assert shown_seqs(page) == list(range(1, last + 3))
    screenshot(page, "beginning")


def test_message_with_markup_shows_as_text(new_context, screenshot):
    room = off_loop(RoomFactory, name="<b>Room</b>")
    page = new_context().new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    join_as(page, room, "<i>Mallory</i>")
    attack = "<img src=x onerror=alert(1)>"
    send(page, attack)
    expect(bubbles(page, attack)).to_have_count(1)
    expect(page.locator("#messages img")).to_have_count(0)
    expect(page.locator("#room-name")).to_have_text("<b>Room</b>")
    expect(page.locator(".msg-system-text", has_text="<i>Mallory</i> joined")).to_be_visible()
    assert dialogs == []
    screenshot(page, "xss")


def test_restart_mid_chat_shows_every_message_once(new_context, daphne_server, screenshot):
    room = off_loop(RoomFactory, name="Restart")
    ann, bob = new_context().new_page(), new_context().new_page()
    join_as(ann, room, "Ann")
    join_as(bob, room, "Bob")
    send(ann, "before 1")
    send(bob, "before 2")
    expect(bubbles(ann, "before 2")).to_have_count(1)
    expect(bubbles(bob, "before 1")).to_have_count(1)

    daphne_server.stop()
    expect(ann.locator("#connection")).to_have_text(re.compile("Reconnecting"))
    # Sent while the server is down: it fails, and goes again with the same client_id.
    send(ann, "during")
    expect(ann.locator("li.msg-mine[data-state=failed]")).to_have_count(1)
    screenshot(ann, "down")
    daphne_server.start()

    expect(ann.locator("#connection")).to_be_hidden(timeout=20_000)
    expect(bob.locator("#connection")).to_be_hidden(timeout=20_000)
    send(bob, "after 1")
    send(ann, "after 2")

    room.refresh_from_db()
    for page in (ann, bob):
        for body in ("before 1", "before 2", "during", "after 1", "after 2"):
            expect(bubbles(page, body)).to_have_count(1)
        expect(page.locator("li.msg:not([data-seq])")).to_have_count(0)
    room.refresh_from_db()
    for page in (ann, bob):
        seqs = shown_seqs(page)
        assert seqs == sorted(set(seqs))
        assert seqs[-1] == room.last_seq
    assert room.messages.filter(body="during").count() == 1
    screenshot(ann, "ann")
    screenshot(bob, "bob")


def test_chinese_browser_sees_chinese_ui(new_context, screenshot):
    room = off_loop(RoomFactory, name="主会场")
    page = new_context(locale="zh-CN").new_page()
    page.goto("/")
    expect(page.locator("h2", has_text="输入房间号")).to_be_visible()
    screenshot(page, "home")
    page.goto(f"/r/{room.code}/")
    expect(page.locator("#join-button")).to_have_text("加入聊天")
    page.fill("#join-name", "小明")
    page.click("#join-button")
    expect(page.locator("#composer-input")).to_have_attribute("placeholder", "说点什么…")
    expect(page.locator(".msg-system-text", has_text="小明 进入房间")).to_be_visible()
    expect(page.locator("#member-count")).to_have_text("2 人 · 1 人在线")
    screenshot(page, "room")


def test_language_switcher_changes_language(new_context):
    page = new_context().new_page()
    page.goto("/")
    page.select_option("#lang-select", "zh-hans")
    expect(page.locator("h2", has_text="输入房间号")).to_be_visible()
    # The switcher's script runs once the new page has loaded.
    page.wait_for_load_state("load")
    page.select_option("#lang-select", "en")
    expect(page.locator("h2", has_text="Join by code")).to_be_visible()


def test_geofenced_room_rejects_far_visitor_and_admits_near_one(new_context, screenshot):
    venue = {"latitude": 31.2304, "longitude": 121.4737}
    from rooms.services import Geofence

    room = off_loop(RoomFactory, name="At the venue", geofence=Geofence(radius_m=200, **venue))
    # 10 km north of the venue, and 20 m north of its centre (1 degree of latitude ≈ 111 km).
    far = new_context(
        geolocation={
            "latitude": venue["latitude"] + 10_000 / 111_195,
            "longitude": venue["longitude"],
        },
        permissions=["geolocation"],
    ).new_page()
    near_spot = {"latitude": venue["latitude"] + 20 / 111_195, "longitude": venue["longitude"]}
    near = new_context(geolocation=near_spot, permissions=["geolocation"]).new_page()

    far.goto(f"/r/{room.code}/")
    expect(far.locator(".geofence-note")).to_contain_text("200 m")
    far.fill("#join-name", "Far away")
    far.click("#join-button")
    expect(far.locator("#join-error")).to_have_text(
        "You are outside this room's area, so you cannot join it from here."
    )
    screenshot(far, "far")

    join_as(near, room, "Nearby")
    expect(near.locator(".msg-system-text", has_text="Nearby joined")).to_be_visible()
    screenshot(near, "near")

    # A newcomer standing there finds the room from the home page (a nickname first).
    visitor = new_context(geolocation=near_spot, permissions=["geolocation"]).new_page()
    visitor.goto("/")
    visitor.click("#nearby-button")
    expect(visitor.locator("#nearby-nickname")).to_be_visible()
    visitor.fill("#nearby-nickname", "Walk-in")
    visitor.click("#nearby-button")
    expect(visitor.locator(".room-item-name")).to_have_text("At the venue")
    expect(visitor.locator(".room-item-meta")).to_have_text("20 m away · 2 members")
    screenshot(visitor, "nearby")
    visitor.click(".room-link")
    expect(visitor.locator("#join-name")).to_be_visible()
    assert [
        m.display_name for m in room.memberships.filter(left_at__isnull=True).order_by("joined_at")
    ] == [
        room.owner.public_name,
        "Nearby",
    ]


def test_closed_room_is_read_only_for_members(new_context, screenshot):
    room = off_loop(RoomFactory, name="Closing soon")
    context = new_context()
    page = context.new_page()
    join_as(page, room, "Reader")
    send(page, "last words")
    expect(page.locator("li.msg-mine[data-state=sent]")).to_have_count(1)
    # The organiser closes it through the API, in the server process that pushes the event.
    closed = context.request.delete(
        f"/api/v1/rooms/{room.code}",
        headers={"Authorization": f"Token {token_for(user=room.owner)}"},
    )
    assert closed.status == 204
    expect(page.locator("#closed-notice")).to_have_text(
        "This room has ended. You can still read its history."
    )
    expect(page.locator("#composer")).to_be_hidden()
    page.reload()
    expect(bubbles(page, "last words")).to_have_count(1)
    expect(page.locator("#closed-notice")).to_be_visible()
    screenshot(page, "closed")
