"""Every frame and layer message of the live protocol, exactly, and through JSON."""

import datetime as dt
import json

from rooms import protocol


def roundtrip(frame: dict) -> dict:
    encoded = protocol.encode(frame)
    assert encoded["type"] == "websocket.send"
    return json.loads(encoded["text"])


def test_hello_frame():
    frame = protocol.hello_frame(room="ABCD2345", last_seq=7, members=3, my_member_id="m1")
    assert roundtrip(frame) == {
        "type": "hello",
        "room": "ABCD2345",
        "last_seq": 7,
        "members": 3,
        "my_member_id": "m1",
    }


def test_message_and_restored_frames_wrap_the_payload():
    payload = {"seq": 1, "body": "hi"}
    assert roundtrip(protocol.message_frame(payload)) == {"type": "message", "message": payload}
    assert roundtrip(protocol.message_restored_frame(payload)) == {
        "type": "message_restored",
        "message": payload,
    }


def test_message_hidden_frame():
    assert roundtrip(protocol.message_hidden_frame(4)) == {"type": "message_hidden", "seq": 4}


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
    assert protocol.layer_event({"type": "pong"}) == {
        "type": "room.event",
        "frame": {"type": "pong"},
    }
    assert protocol.layer_close_member(42) == {
        "type": "room.control",
        "action": "close_member",
        "user_id": "42",
        "code": 4403,
    }
    assert protocol.layer_close_member(42, protocol.CLOSE_NO_CREDENTIALS)["code"] == 4401
