"""The process's room hub: one per event loop (Daphne runs one).

The Channels tutorial pattern — every consumer joins the room's group and gets its own
copy of every event through the channel layer — tops out at a few thousand frames per
second on a small machine. Here the process, not each socket, subscribes: the hub holds
one feed (one layer channel) per room that has local sockets, subscribed on the first and
dropped with the last; each feed receives an event once, encodes it once and hands the
same bytes to every local socket.

The hub takes a clock, so tests drive its periodic work (`sweep`, `RoomFeed.check`)
directly instead of sleeping.
"""

import asyncio
import logging
import time
import uuid
from collections import Counter

from channels.layers import get_channel_layer
from django.conf import settings

from history.live.collector import SETTLE_SECONDS, Collector
from history.live.feed import RoomFeed
from history.live.handshake import HandshakeReader
from history.live.socket import Clock, LocalSocket
from huiliao_site import metrics
from rooms.protocol import CLOSE_TOO_SLOW

logger = logging.getLogger(__name__)


class Hub:
    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.layer = get_channel_layer()
        self.feeds: dict[str, RoomFeed] = {}
        self.sockets: set[LocalSocket] = set()
        self.per_user: Counter[str] = Counter()
        self.sweeper: asyncio.Task | None = None
        self.stopping: set[asyncio.Task] = set()
        self.handshakes = HandshakeReader()
        self.collector = Collector(clock=lambda: self.clock())
        self.collect_timer: asyncio.TimerHandle | None = None
        # This hub among the processes, in the shared online counts (history.live.online).
        self.id = uuid.uuid4().hex[:12]

    async def attach(self, socket: LocalSocket) -> RoomFeed:
        """Start feeding `socket` with its room's live frames (buffered until go_live).
        Returns once the room's feed is subscribed, so what commits later reaches it."""
        feed = self.feeds.get(socket.code)
        if feed is None:
            feed = self.feeds[socket.code] = RoomFeed(self, socket.code)
            feed.start()
            metrics.ROOMS_LIVE.set(len(self.feeds))
        feed.sockets.add(socket)
        self.sockets.add(socket)
        socket.on_close = self._on_socket_closed
        socket.epoch = self.collector.attached()
        self._collect_later()
        if self.sweeper is None:
            self.sweeper = asyncio.ensure_future(self._sweep_forever())
        await asyncio.shield(feed.ready)
        return feed

    def claim(self, socket: LocalSocket, user_id: str) -> bool:
        """Name the socket's user; False if they already hold HUILIAO_WS_MAX_PER_USER
        sockets in this process (the caller closes it with 4429)."""
        if self.per_user[user_id] >= settings.HUILIAO_WS_MAX_PER_USER:
            return False
        socket.user_id = user_id
        self.per_user[user_id] += 1
        metrics.SOCKETS_OPEN.labels(socket.kind, socket.path).inc()
        return True

    def detach(self, socket: LocalSocket) -> None:
        socket.closed = True
        self._on_socket_closed(socket, None)

    def _on_socket_closed(self, socket: LocalSocket, code: int | None) -> None:
        socket.on_close = None
        if code is not None:
            metrics.SOCKETS_CLOSED.labels(str(code)).inc()
        if socket not in self.sockets:
            return
        self.sockets.discard(socket)
        self.collector.closed(socket.epoch)
        if self.collector.release_due():
            self._collect_later()
        if socket.user_id is not None:
            metrics.SOCKETS_OPEN.labels(socket.kind, socket.path).dec()
            self.per_user[socket.user_id] -= 1
            if self.per_user[socket.user_id] <= 0:
                del self.per_user[socket.user_id]
        feed = self.feeds.get(socket.code)
        if feed is None or socket not in feed.sockets:
            return
        feed.sockets.discard(socket)
        if not feed.sockets:
            self.forget(feed)

    def forget(self, feed: RoomFeed) -> None:
        """Unsubscribe a feed (last local socket gone, or the room closed)."""
        if self.feeds.get(feed.code) is feed:
            del self.feeds[feed.code]
            metrics.ROOMS_LIVE.set(len(self.feeds))
        task = asyncio.ensure_future(feed.stop())
        self.stopping.add(task)
        task.add_done_callback(self.stopping.discard)

    def _collect_later(self) -> None:
        if self.collect_timer is None:
            loop = asyncio.get_running_loop()
            self.collect_timer = loop.call_later(SETTLE_SECONDS, self._collect)

    def _collect(self) -> None:
        self.collect_timer = None
        if self.collector.tick():
            self._collect_later()

    async def close(self) -> None:
        """Close every local socket and unsubscribe every room (shutdown, tests)."""
        if self.collect_timer is not None:
            self.collect_timer.cancel()
            self.collect_timer = None
        for socket in list(self.sockets):
            socket.close(CLOSE_TOO_SLOW)
        for feed in list(self.feeds.values()):
            self.forget(feed)
        await asyncio.gather(*self.stopping, return_exceptions=True)
        if self.sweeper is not None:
            self.sweeper.cancel()
            await asyncio.gather(self.sweeper, return_exceptions=True)
            self.sweeper = None

    def sweep(self) -> None:
        """Close sockets silent past HUILIAO_WS_IDLE_TIMEOUT (4408), and cut off those
        whose client has left data unread that long, pings or not."""
        now = self.clock()
        timeout = settings.HUILIAO_WS_IDLE_TIMEOUT
        for socket in list(self.sockets):
            if socket.is_stalled(now, timeout):
                socket.cut_off()
            elif now - socket.last_heard > timeout:
                socket.close(CLOSE_TOO_SLOW)

    async def _sweep_forever(self) -> None:
        while True:
            timeout = settings.HUILIAO_WS_IDLE_TIMEOUT
            await asyncio.sleep(max(0.2, min(5.0, timeout / 4)))
            self.sweep()


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one in a server; tests run one loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub()
    return hub
