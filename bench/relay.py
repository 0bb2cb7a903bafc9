"""The floor for bench/fanout.py: a bare `websockets` relay that speaks just enough of the
room protocol (hello first; each `send` goes back out as a `message` to every socket).

    python bench/relay.py PORT

No database, no auth, no Django: what any Python websocket server pays per frame.
"""

import asyncio
import json
import sys
from datetime import UTC, datetime

from websockets.asyncio.server import broadcast, serve

sockets = set()
seq = 0


async def member(ws) -> None:
    global seq
    sockets.add(ws)
    try:
        await ws.send(json.dumps({"type": "hello", "room": "RELAY", "last_seq": seq}))
        async for text in ws:
            frame = json.loads(text)
            if frame.get("type") != "send":
                continue
            seq += 1
            message = {
                "seq": seq,
                "client_id": frame["client_id"],
                "sender": None,
                "kind": "text",
                "body": frame["body"],
                "hidden": False,
                "created_at": datetime.now(UTC).isoformat(),
            }
            text = json.dumps(
                {"type": "message", "message": message}, ensure_ascii=False, separators=(",", ":")
            )
            broadcast(sockets, text)
    finally:
        sockets.discard(ws)


async def main(port: int) -> None:
    async with serve(member, "127.0.0.1", port, backlog=4096, max_queue=None, ping_interval=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
