"""A process's subscription to one room: its layer channel, its local sockets, its state.

Delivery rules, which make the layer's losses and reorderings harmless:
- Seqs are allocated under the room row lock, so when seq N is published every seq < N
  is committed. A message above the next expected seq makes the feed read the missing ones
  from the database first; a message at or below the last one delivered is dropped. Each
  socket also remembers the last seq it was sent, so its own replay and the live stream
  never overlap.
- Every HUILIAO_HUB_CHECK_SECONDS (and exactly at `expires_at`) the feed re-reads the
  room: messages the layer dropped at the tail are filled in, a room that closed or
  expired gets `room_closed` and 4410, the member count is refreshed, and local sockets
  whose membership ended (a "close member" message that was lost) are closed with 4403.
- After a layer failure, and every HUILIAO_HUB_REJOIN_SECONDS, the feed joins the room's
  group again: a restarted Redis has forgotten every group.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from history import selectors
from history.events import frame_in_language, message_frame, message_notice
from history.live import online
from history.live.db import in_db_thread
from history.live.socket import Burst, LocalSocket
from huiliao_site import metrics
from rooms import protocol
from rooms.events import group_name

if TYPE_CHECKING:
    from history.live.registry import Hub

logger = logging.getLogger(__name__)

# How long a "close member" is remembered for sockets still in their handshake.
REMOVED_MEMORY_SECONDS = 60
# How long the periodic check lets a message it read arrive through the layer before it
# counts as lost and is read from the database.
FILL_GRACE_SECONDS = 1.0


class RoomFeed:
    def __init__(self, hub: "Hub", code: str) -> None:
        self.hub = hub
        self.code = code
        self.room_id: int | None = None  # None: no such room (the handshake says 4404)
        self.sockets: set[LocalSocket] = set()
        self.delivered = 0  # the last message seq handed to the local sockets
        self.members = 0  # current members, kept from `members` frames and the checks
        self.removed: dict[str, float] = {}  # user id → when their membership ended
        self.closed = False
        self.lock = asyncio.Lock()
        self.ready = asyncio.get_running_loop().create_future()
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.stopped = False
        self.joined_at = 0.0  # when the feed last joined the layer group (hub clock)
        self.expires_at: float | None = None  # Unix time, as the subscription read it
        # question id → latest count, waiting for the next vote flush (coalesced)
        self.votes: dict[str, int] = {}
        self.votes_timer: asyncio.TimerHandle | None = None
        self.votes_sent_at = float("-inf")
        # Members with the room open in every process, as last summed (online.py), and
        # the (members, online) counts the local sockets were last shown, by their hello
        # or the last `members` frame.
        self.online_elsewhere = 0
        self.counts_shown: set[tuple[int, int]] = set()
        # Frames for every local socket, written at the end of this loop turn (`flush`).
        self.outbox: list[tuple[int | None, dict[str, Any]]] = []
        self.flush_handle: asyncio.Handle | None = None

    def start(self) -> None:
        self.tasks.append(asyncio.ensure_future(self._run()))

    async def _run(self) -> None:
        try:
            await self._subscribe()
        except Exception as exc:
            logger.exception("could not subscribe to room %s", self.code)
            self.ready.set_exception(exc)
            self.closed = True
            self.hub.forget(self)
            return
        self.ready.set_result(None)
        if self.room_id is None:
            return  # the handshake refuses its socket (4404) and the feed goes with it
        self.tasks.append(asyncio.ensure_future(self._watch()))
        await self._receive()

    async def _subscribe(self) -> None:
        layer = self.hub.layer
        if layer is not None:
            self.channel = await layer.new_channel(prefix="hub")
            await self._join_group()
        # Read after subscribing: anything committed later arrives through the layer.
        state = await in_db_thread(selectors.room_live_state)(code=self.code)
        if state is not None:
            self.room_id = state["room_id"]
            self.delivered = state["last_seq"]
            self.members = state["members"]
            self.expires_at = _timestamp(state["expires_at"])
            # Before the first hello: it counts the other processes' members too, and the
            # sockets' counts only ever need telling at a check (_count_online).
            await self._count_online()

    async def _join_group(self) -> None:
        await self.hub.layer.group_add(group_name(self.code), self.channel)
        self.joined_at = self.hub.clock()

    async def _receive(self) -> None:
        layer = self.hub.layer
        if layer is None:
            return
        failures = 0
        while True:
            try:
                if failures:
                    # Redis may have restarted empty: without this, group_send reaches nobody.
                    await self._join_group()
                event = await layer.receive(self.channel)
                if failures:
                    logger.info("room %s: layer back after %d failure(s)", self.code, failures)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # Wait, then check the room so nothing missed stays missed.
                failures += 1
                metrics.LAYER_ERRORS.labels("receive").inc()
                if failures == 1:
                    logger.warning("room %s: layer receive failed", self.code, exc_info=True)
                await asyncio.sleep(min(5, 0.5 * failures))
                await self._safely(self.check)
                continue
            await self._guarded(self.handle_layer_message, event)

    async def _watch(self) -> None:
        """Re-read the room every few seconds, and exactly when it expires (the
        subscription has just read it)."""
        expires_at = self.expires_at
        while True:
            delay = settings.HUILIAO_HUB_CHECK_SECONDS
            if expires_at is not None:
                delay = max(0.0, min(delay, expires_at - time.time()))
            await asyncio.sleep(delay)
            expires_at = await self._safely(self.check)
            # Not under the feed's lock: live frames keep flowing while it reads.
            await self.check_memberships()

    async def _guarded(self, method, *args):
        """Run `method` under the feed's lock: frames are handled one at a time, in order."""
        async with self.lock:
            return await self._safely(method, *args)

    async def _safely(self, method, *args):
        if self.closed:
            return None
        try:
            return await method(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("room %s: hub error", self.code)
            return None

    async def handle_layer_message(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if event.get("type") == protocol.LAYER_EVENT:
            await self.handle(event["frame"], event.get("notice"))
            published = event.get("at")
            if isinstance(published, float) and self.sockets:
                metrics.PUBLISH_TO_WRITE_SECONDS.observe(max(0.0, time.time() - published))
        elif event.get("type") == protocol.LAYER_CONTROL:
            if event.get("action") == protocol.CONTROL_CLOSE_MEMBER:
                code = event.get("code", protocol.CLOSE_FORBIDDEN)
                self.close_member(event["user_id"], code)
            elif event.get("action") == protocol.CONTROL_TO_USER:
                self.to_user(event["user_id"], event["frame"])

    async def handle(self, frame: protocol.Frame, notice: dict[str, Any] | None = None) -> None:
        kind = frame.get("type")
        if kind == "message":
            seq = frame["message"]["seq"]
            if seq <= self.delivered:
                return  # already delivered (layer duplicate, or read from the database)
            if seq > self.delivered + 1:
                await self._fill(seq - 1)
            self._deliver_message(seq, frame, notice)
            return
        if kind == "room_closed":
            self._close_room()
            return
        if kind == "question_votes":
            self._coalesce_votes(frame)
            return
        if kind == "members":
            self.members = frame["count"]
            self._tell_members()
            return
        self._deliver(None, protocol.encode(frame))

    def online_local(self) -> int:
        """Members with the room open through this process's sockets."""
        return len({s.user_id for s in self.sockets if s.user_id is not None})

    def online_now(self) -> int:
        return self.online_elsewhere + self.online_local()

    def counts_for_hello(self) -> tuple[int, int]:
        """(members, online) for a socket's hello, remembered as shown."""
        counts = (self.members, self.online_now())
        self.counts_shown.add(counts)
        return counts

    def _tell_members(self) -> None:
        """The member and online counts to every local socket (a `members` frame)."""
        counts = (self.members, self.online_now())
        self.counts_shown = {counts}
        self._deliver(None, protocol.encode(protocol.members_frame(*counts)))

    async def _count_online(self) -> None:
        """Share this process's online count and add up every process's (online.py); tell
        the sockets when any of them was shown other counts (a hello before others came,
        or before they went) — at most once per check, however many come and go."""
        local = self.online_local()
        self.online_elsewhere = await in_db_thread(online.exchange)(
            code=self.code, hub_id=self.hub.id, local=local
        )
        if self.counts_shown - {(self.members, self.online_now())}:
            self._tell_members()

    def _coalesce_votes(self, frame: protocol.Frame) -> None:
        """A hall voting at once must not flood the sockets: each question's count goes out
        at most once per HUILIAO_VOTES_COALESCE_MS, with the latest value."""
        self.votes[frame["id"]] = frame["votes"]
        if self.votes_timer is not None:
            return
        loop = asyncio.get_running_loop()
        window = settings.HUILIAO_VOTES_COALESCE_MS / 1000
        wait = self.votes_sent_at + window - loop.time()
        self.votes_timer = loop.call_later(max(0.0, wait), self._flush_votes)

    def _flush_votes(self) -> None:
        self.votes_timer = None
        self.votes_sent_at = asyncio.get_running_loop().time()
        votes, self.votes = self.votes, {}
        if self.closed:
            return
        for question_id, count in votes.items():
            frame = protocol.question_votes_frame(question_id=question_id, votes=count)
            self._deliver(None, protocol.encode(frame))

    def to_user(self, user_id: str, frame: protocol.Frame) -> None:
        """A private frame (a contact request or card): that user's local sockets only."""
        self.flush()
        sockets = [s for s in self.sockets if s.user_id == user_id]
        if sockets:
            message = protocol.encode(frame)
            for socket in sockets:
                socket.deliver(None, message)
            metrics.FRAMES_SENT.inc(len(sockets))

    def close_member(self, user_id: str, code: int = protocol.CLOSE_FORBIDDEN) -> None:
        self.flush()  # what was published before the removal still reaches them
        self.removed[user_id] = self.hub.clock()
        for socket in [s for s in self.sockets if s.user_id == user_id]:
            socket.close(code)

    def was_removed(self, user_id: str, *, since: float) -> bool:
        """A "close member" for `user_id` arrived after `since` (while its socket was still
        in the handshake, so nothing could close it then)."""
        removed_at = self.removed.get(user_id)
        return removed_at is not None and removed_at >= since

    async def check(self) -> float | None:
        """Fill a missed tail, close the room if it closed or expired, refresh the member
        count and drop sockets of former members. Returns the expiry as a Unix time, so the
        watcher can wake exactly then.

        Live frames keep flowing while it reads: only a fill takes the feed's lock, and
        only for what is still missing a moment later (a message committed just before
        the read is usually still on its way through the layer)."""
        state = await in_db_thread(selectors.room_live_state)(code=self.code)
        if state is None or not state["open"]:
            async with self.lock:
                if not self.closed:
                    self._close_room()
            return None
        self.members = state["members"]
        if state["last_seq"] > self.delivered:
            await asyncio.sleep(FILL_GRACE_SECONDS)
            async with self.lock:
                if not self.closed and state["last_seq"] > self.delivered:
                    await self._fill(state["last_seq"])
        await self._count_online()
        now = self.hub.clock()
        self.removed = {
            user: at for user, at in self.removed.items() if now - at < REMOVED_MEMORY_SECONDS
        }
        rejoin_due = now - self.joined_at > settings.HUILIAO_HUB_REJOIN_SECONDS
        if self.hub.layer is not None and rejoin_due:
            await self._join_group()  # the group's membership expires in the layer too
        return _timestamp(state["expires_at"])

    async def check_memberships(self) -> None:
        """Close local sockets of people who are no longer current members (a lost "close
        member" order, or a change made behind the services' back)."""
        user_ids = {s.user_id for s in self.sockets if s.user_id is not None}
        if not user_ids or self.closed:
            return
        current = await in_db_thread(selectors.current_member_ids)(
            room_id=self.room_id, user_ids=user_ids, members=self.members
        )
        gone = user_ids - current
        if gone:
            for socket in [s for s in self.sockets if s.user_id in gone]:
                socket.close(protocol.CLOSE_FORBIDDEN)

    async def _fill(self, last: int) -> None:
        messages = await in_db_thread(selectors.messages_range)(
            room_id=self.room_id, first=self.delivered + 1, last=last
        )
        if messages:
            # The layer dropped or reordered these; rare, and worth knowing about.
            logger.info("room %s: %d message(s) filled from the database", self.code, len(messages))
        for message in messages:
            if message.seq > self.delivered:
                self._deliver_message(message.seq, message_frame(message), message_notice(message))

    def _deliver_message(
        self, seq: int, frame: protocol.Frame, notice: dict[str, Any] | None = None
    ) -> None:
        self.delivered = seq
        if notice is None:
            self._deliver(seq, protocol.encode(frame))
            return
        # A system notice: worded once per language among the local sockets, after the
        # frames before it.
        self.flush()
        by_language: dict[str, list[LocalSocket]] = {}
        for socket in self.sockets:
            by_language.setdefault(socket.language, []).append(socket)
        for language, sockets in by_language.items():
            message = protocol.encode(frame_in_language(frame, notice, language))
            for socket in sockets:
                socket.deliver(seq, message)
            metrics.FRAMES_SENT.inc(len(sockets))

    def _deliver(self, seq: int | None, message: dict[str, Any]) -> None:
        """A frame for every local socket, written when this turn of the event loop ends,
        with any others handled in the same turn (socket.Burst)."""
        self.outbox.append((seq, message))
        if self.flush_handle is None:
            self.flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the outbox to every local socket now."""
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        frames, self.outbox = self.outbox, []
        if not frames:
            return
        sockets = list(self.sockets)
        if len(frames) == 1:
            seq, message = frames[0]
            for socket in sockets:
                socket.deliver(seq, message)
        else:
            burst = Burst(frames)
            together = sum(socket.deliver_burst(burst) for socket in sockets)
            metrics.FRAMES_SENT_TOGETHER.inc(together * len(frames))
        metrics.FRAMES_SENT.inc(len(sockets) * len(frames))

    def _close_room(self) -> None:
        self.flush()
        self.closed = True
        message = protocol.encode(protocol.room_closed_frame())
        for socket in list(self.sockets):
            # Also for a socket still replaying: the room is gone, its replay is moot.
            socket.push(message)
            socket.close(protocol.CLOSE_ROOM_CLOSED)
        self.hub.forget(self)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.closed = True
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.votes_timer is not None:
            self.votes_timer.cancel()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"room {self.code}: feed stopped"))
        layer = self.hub.layer
        if layer is not None and self.channel is not None:
            try:
                await layer.group_discard(group_name(self.code), self.channel)
            except Exception:
                logger.warning("room %s: could not leave the layer group", self.code, exc_info=True)


def _timestamp(moment) -> float | None:
    return moment.timestamp() if moment is not None else None
