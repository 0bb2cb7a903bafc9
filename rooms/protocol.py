"""The live protocol's shapes: every frame a socket can receive, every close code, and the
two kinds of message the channel layer carries between processes. Defined here once;
`rooms.events` publishes them, `history.live` delivers them, docs/live.md describes them,
and tests/rooms/test_protocol.py asserts each one exactly.

A message's own payload (`{seq, client_id, sender: {member_id, …}, …}`) is built from the model in
`history.events`; this module only wraps it.
"""

import json
import time
from typing import Any

from rooms.avatars import avatar_url

Frame = dict[str, Any]

# --- close codes ----------------------------------------------------------------------------
# Every refusal accepts the handshake and then closes with one of these, so every client can
# read why (a refused handshake is an opaque failure in browsers and the mini-program).
CLOSE_NO_CREDENTIALS = 4401  # log in again
CLOSE_FORBIDDEN = 4403  # not a member, left, or banned
CLOSE_UNKNOWN_ROOM = 4404  # give up
CLOSE_TOO_SLOW = 4408  # fell too far behind, stopped reading, or silent: resume by seq
CLOSE_ROOM_CLOSED = 4410  # after a room_closed frame: show the room read-only
CLOSE_TOO_MANY_SOCKETS = 4429  # this user already holds HUILIAO_WS_MAX_PER_USER sockets
# …or this address tried too many unknown room codes: the same advice, wait and retry.
CLOSE_TOO_MANY = CLOSE_TOO_MANY_SOCKETS

CLOSE_CODES = {
    CLOSE_NO_CREDENTIALS: "no_credentials",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_UNKNOWN_ROOM: "unknown_room",
    CLOSE_TOO_SLOW: "too_slow",
    CLOSE_ROOM_CLOSED: "room_closed",
    CLOSE_TOO_MANY_SOCKETS: "too_many_sockets",
}


# --- server → client frames -----------------------------------------------------------------
def member_payload(*, member_id: str, display_name: str, avatar: str, role: str) -> Frame:
    """A person as everyone else in the room sees them (a message's sender, the members
    list, the room's owner): never their account id, nickname or photo."""
    return {
        "member_id": member_id,
        "display_name": display_name,
        "avatar": avatar,
        "avatar_url": avatar_url(avatar),
        "role": role,
    }


def iso_datetime(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def hello_frame(*, room: str, last_seq: int, members: int, online: int, my_member_id: str) -> Frame:
    """Always the first frame on a socket; `my_member_id` tells the client which messages
    are its own, `online` how many members have the room open."""
    return {
        "type": "hello",
        "room": room,
        "last_seq": last_seq,
        "members": members,
        "online": online,
        "my_member_id": my_member_id,
    }


def message_frame(payload: dict[str, Any]) -> Frame:
    return {"type": "message", "message": payload}


def message_restored_frame(payload: dict[str, Any]) -> Frame:
    """A hidden message shown again (moderation undone): clients replace it in place."""
    return {"type": "message_restored", "message": payload}


def message_hidden_frame(seq: int) -> Frame:
    """Hidden by a moderator, its reporters or a content rule: clients show a placeholder."""
    return {"type": "message_hidden", "seq": seq}


def message_recalled_frame(seq: int) -> Frame:
    """Taken back by its sender: clients show "message recalled" in its place."""
    return {"type": "message_recalled", "seq": seq}


def room_updated_frame(*, name: str, expires_at, slow_mode_seconds: int, posting: str) -> Frame:
    """The room's settings changed: everything a client shows or enforces about them."""
    return {
        "type": "room_updated",
        "room": {
            "name": name,
            "expires_at": iso_datetime(expires_at),
            "slow_mode_seconds": slow_mode_seconds,
            "posting": posting,
        },
    }


def member_updated_frame(*, member_id: str, role: str, muted_until, banned: bool) -> Frame:
    """A member's standing changed (role, mute, ban): a muted member's client disables
    sending until `muted_until`; a banned one's sockets close with 4403 right after."""
    return {
        "type": "member_updated",
        "member_id": member_id,
        "role": role,
        "muted_until": iso_datetime(muted_until),
        "banned": banned,
    }


def question_frame(payload: dict[str, Any]) -> Frame:
    """A question asked, answered, hidden or promoted: the whole question (its `my_vote` is
    null here: a frame goes to everyone; each client keeps its own)."""
    return {"type": "question", "question": payload}


def question_votes_frame(*, question_id: str, votes: int) -> Frame:
    """A question's vote count. The room hub sends at most one per question per
    HUILIAO_VOTES_COALESCE_MS (500), however many votes arrive."""
    return {"type": "question_votes", "id": question_id, "votes": votes}


def resume_truncated_frame(first_seq: int) -> Frame:
    """The replay that follows starts at `first_seq`: page older messages over REST."""
    return {"type": "resume_truncated", "first_seq": first_seq}


def announcement_frame(*, text: str, updated_at) -> Frame:
    return {
        "type": "announcement",
        "announcement": {"text": text, "updated_at": iso_datetime(updated_at)},
    }


def members_frame(count: int, online: int | None = None) -> Frame:
    """Current members, and how many of them have the room open now (`online`: the room
    hubs add it to every `members` frame they deliver, from the sockets they hold)."""
    frame = {"type": "members", "count": count}
    if online is not None:
        frame["online"] = online
    return frame


def contact_request_frame(*, request_id: str, member_id: str, display_name: str) -> Frame:
    """To the recipient's sockets only: a member asks to swap contact cards."""
    return {
        "type": "contact_request",
        "request": {
            "id": request_id,
            "member": {"member_id": member_id, "display_name": display_name},
        },
    }


def contact_shared_frame(*, request_id: str, member_id: str, display_name: str, card: str) -> Frame:
    """To each of the two members only, with the other's card: the exchange was accepted."""
    return {
        "type": "contact_shared",
        "request": {
            "id": request_id,
            "member": {"member_id": member_id, "display_name": display_name},
            "card": card,
        },
    }


def room_closed_frame() -> Frame:
    return {"type": "room_closed"}


def error_frame(code: str, detail: str, *, retry_after: int | None = None) -> Frame:
    """A refused client frame; the socket stays open. Codes are the REST API's; a throttle
    (`rate_limited`, `slow_mode`) says in `retry_after` how many seconds to wait, as REST's
    Retry-After header does."""
    frame = {"type": "error", "code": code, "detail": detail}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return frame


def pong_frame() -> Frame:
    return {"type": "pong"}


def encode(frame: Frame) -> dict[str, Any]:
    """The ASGI message for a frame: encoded once, shared by every socket it goes to."""
    return {
        "type": "websocket.send",
        "text": json.dumps(frame, ensure_ascii=False, separators=(",", ":")),
    }


# --- channel-layer messages (between processes; never sent to a client) ---------------------
LAYER_EVENT = "room.event"  # carries a frame for every local socket of the room
LAYER_CONTROL = "room.control"  # tells the hubs to act on their local sockets

CONTROL_CLOSE_MEMBER = "close_member"  # the member left or was banned: close their sockets
CONTROL_TO_USER = "to_user"  # a frame for one user's sockets only (contact exchange)


def layer_event(frame: Frame, notice: dict[str, Any] | None = None) -> dict[str, Any]:
    """A frame for every socket of the room. A system notice also carries its event and
    parameters, so that each hub words it in each of its sockets' languages."""
    # When it was published (Unix time): the hubs measure publish → socket write.
    message = {"type": LAYER_EVENT, "frame": frame, "at": time.time()}
    if notice is not None:
        message["notice"] = notice
    return message


def layer_close_member(user_id, code: int = CLOSE_FORBIDDEN) -> dict[str, Any]:
    """Close a user's sockets in a room: 4403 when they left or were banned, 4401 when
    their credentials ended (logout, a revoked token, a deactivated account)."""
    return {
        "type": LAYER_CONTROL,
        "action": CONTROL_CLOSE_MEMBER,
        "user_id": str(user_id),
        "code": code,
    }


def layer_to_user(user_id, frame: Frame) -> dict[str, Any]:
    """A frame for one user's sockets in the room, and nobody else's."""
    return {
        "type": LAYER_CONTROL,
        "action": CONTROL_TO_USER,
        "user_id": str(user_id),
        "frame": frame,
    }
