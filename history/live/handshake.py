"""Handshakes read the database in batches: a hall that opens the room at once costs a
few queries, not one per phone.

While one batch is in the database thread, the handshakes that arrive queue up and go
together in the next (`history.selectors.sockets_open`): no timer, no added wait for a
lone socket, and the Python cost of a query is shared by everyone in the batch.
"""

import asyncio

from accounts.channels_auth import Credentials
from history import selectors
from history.live.db import in_db_thread

BATCH_MAX = 250


class HandshakeReader:
    def __init__(self) -> None:
        self.pending: list[tuple[str, Credentials, asyncio.Future]] = []
        self.worker: asyncio.Task | None = None

    async def open(self, *, code: str, credentials: Credentials) -> selectors.SocketOpen:
        """As `selectors.socket_open` (raises the same domain errors), batched."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((code, credentials, future))
        if self.worker is None:
            self.worker = asyncio.ensure_future(self._work())
        return await future

    async def _work(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:BATCH_MAX], self.pending[BATCH_MAX:]
                requests = [(code, credentials) for code, credentials, _ in batch]
                try:
                    results = await in_db_thread(selectors.sockets_open)(requests=requests)
                except Exception as exc:  # the database failed: every waiter hears of it
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue  # its socket went away meanwhile
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.worker = None
