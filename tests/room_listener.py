"""Watch a room's live events the way a process's room hub does."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

from channels.layers import get_channel_layer

from rooms.protocol import LAYER_CONTROL, LAYER_EVENT


class RoomListener:
    """A real channel subscribed to a room's channel-layer group, as a process's room hub
    is: it sees exactly the events the services publish (after commit).

    It runs its own event loop in a thread for the whole test, so the layer's queues and
    connections stay on one loop while the test publishes from others.
    """

    def __init__(self, code: str):
        self.group = f"room.{code}"
        self.layer = get_channel_layer()
        self.received: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self._subscribe())
        self.task = asyncio.run_coroutine_threadsafe(self._collect(), self.loop)

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _subscribe(self) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, channel)
        return channel

    async def _collect(self):
        async def tick():
            # Another thread's group_send may wake a waiter without waking this loop.
            while True:
                await asyncio.sleep(0.02)

        ticker = asyncio.ensure_future(tick())
        try:
            while True:
                message = await self.layer.receive(self.channel)
                self.received.append(message)
        finally:
            ticker.cancel()

    def frames(
        self, count: int | None = None, timeout: float = 2.0, settle: float = 0.3
    ) -> list[dict]:
        """The frames received so far: waits for `count` of them (then a moment more, so
        that an extra frame would show), or for `settle` seconds when count is None."""
        deadline = time.monotonic() + timeout
        if count is not None:
            while len(self.received) < count and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(settle)
        # Frames as clients get them; control messages for the hubs as the layer carries them.
        frames = [
            message["frame"] if message["type"] == LAYER_EVENT else message
            for message in self.received
        ]
        assert all(m["type"] in {LAYER_EVENT, LAYER_CONTROL} for m in self.received)
        self.received.clear()
        return frames

    def close(self):
        self.task.cancel()
        try:
            self._run(self.layer.group_discard(self.group, self.channel))
        except Exception:  # noqa: S110 - teardown of a test helper
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def listening() -> Iterator[Callable[..., RoomListener]]:
    """The body of a `listen` fixture: `listen(room)` subscribes; all stop at teardown."""
    listeners: list[RoomListener] = []

    def start(room) -> RoomListener:
        listener = RoomListener(room.code)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.close()
