"""Every frame and layer message of the live protocol, exactly, and through JSON."""

import datetime as dt
import json
import time

from rooms import protocol


def roundtrip(frame: dict) -> dict:
    encoded = protocol.encode(frame)
    assert encoded["type"] == "websocket.send"
    return json.loads(encoded["text"])


def test_hello_frame():
    frame = protocol.hello_frame(
        room="ABCD2345", last_seq=7, members=3, online=2, my_member_id="m1"
    )
    assert roundtrip(frame) == {
        "type": "hello",
        "room": "ABCD2345",
        "last_seq": 7,
        "members": 3,
        "online": 2,
        "my_member_id": "m1",
    }


def test_members_frame_with_and_without_online():
    assert roundtrip(protocol.members_frame(5)) == {"type": "members", "count": 5}
    assert roundtrip(protocol.members_frame(5, 3)) == {"type": "members", "count": 5, "online": 3}


def test_message_and_restored_frames_wrap_the_payload():
    payload = {"seq": 1, "body": "hi"}
    assert roundtrip(protocol.message_frame(payload)) == {"type": "message", "message": payload}
    assert roundtrip(protocol.message_restored_frame(payload)) == {
        "type": "message_restored",
        "message": payload,
    }


def test_message_hidden_frame():
    assert roundtrip(protocol.message_hidden_frame(4)) == {"type": "message_hidden", "seq": 4}


def test_message_recalled_frame():
    assert roundtrip(protocol.message_recalled_frame(9)) == {"type": "message_recalled", "seq": 9}


def test_room_updated_frame():
    frame = protocol.room_updated_frame(
        name="Keynote",
        expires_at=dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC),
        slow_mode_seconds=30,
        posting="moderators",
    )
    assert roundtrip(frame) == {
        "type": "room_updated",
        "room": {
            "name": "Keynote",
            "expires_at": "2026-12-01T18:00:00Z",
            "slow_mode_seconds": 30,
            "posting": "moderators",
        },
    }


def test_member_updated_frame():
    frame = protocol.member_updated_frame(
        member_id="m1",
        role="member",
        muted_until=dt.datetime(2026, 12, 1, 18, 5, tzinfo=dt.UTC),
        banned=False,
    )
    assert roundtrip(frame) == {
        "type": "member_updated",
        "member_id": "m1",
        "role": "member",
        "muted_until": "2026-12-01T18:05:00Z",
        "banned": False,
    }


def test_error_frame_with_retry_after():
    assert roundtrip(protocol.error_frame("slow_mode", "Wait.", retry_after=12)) == {
        "type": "error",
        "code": "slow_mode",
        "detail": "Wait.",
        "retry_after": 12,
    }


def test_resume_truncated_frame():
    assert roundtrip(protocol.resume_truncated_frame(501)) == {
        "type": "resume_truncated",
        "first_seq": 501,
    }


def test_announcement_frame():
    when = dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)
    assert roundtrip(protocol.announcement_frame(text="会场 A", updated_at=when)) == {
        "type": "announcement",
        "announcement": {"text": "会场 A", "updated_at": "2026-11-25T08:30:00Z"},
    }
    assert roundtrip(protocol.announcement_frame(text="", updated_at=None)) == {
        "type": "announcement",
        "announcement": {"text": "", "updated_at": None},
    }


def test_members_room_closed_error_and_pong_frames():
    assert roundtrip(protocol.members_frame(12)) == {"type": "members", "count": 12}
    assert roundtrip(protocol.room_closed_frame()) == {"type": "room_closed"}
    assert roundtrip(protocol.error_frame("muted", "You are muted.")) == {
        "type": "error",
        "code": "muted",
        "detail": "You are muted.",
    }
    assert roundtrip(protocol.pong_frame()) == {"type": "pong"}


def test_encode_keeps_chinese_readable_and_compact():
    assert protocol.encode({"type": "x", "text": "会聊"})["text"] == '{"type":"x","text":"会聊"}'


def test_close_codes():
    assert protocol.CLOSE_CODES == {
        4401: "no_credentials",
        4403: "forbidden",
        4404: "unknown_room",
        4408: "too_slow",
        4410: "room_closed",
        4429: "too_many_sockets",
    }


def test_layer_messages():
    event = protocol.layer_event({"type": "pong"})
    assert abs(event.pop("at") - time.time()) < 5  # when published: for the latency metric
    assert event == {"type": "room.event", "frame": {"type": "pong"}}
    notice = protocol.layer_event({"type": "message"}, {"event": "joined", "params": {}})
    assert notice["notice"] == {"event": "joined", "params": {}}
    assert protocol.layer_to_user(7, {"type": "pong"}) == {
        "type": "room.control",
        "action": "to_user",
        "user_id": "7",
        "frame": {"type": "pong"},
    }
    assert protocol.layer_close_member(42) == {
        "type": "room.control",
        "action": "close_member",
        "user_id": "42",
        "code": 4403,
    }
    assert protocol.layer_close_member(42, protocol.CLOSE_NO_CREDENTIALS)["code"] == 4401
