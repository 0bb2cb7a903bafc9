"""The live stream: one room hub per process between the channel layer and the sockets.

- `registry`: the hub (one per event loop): feeds by room, sockets by user, idle sweep.
- `feed`: one room's subscription and its delivery rules.
- `socket`: one socket's ordered, bounded queue.
- `fastpath`: the only code that touches Daphne's, Twisted's and autobahn's internals.
Frame shapes and close codes are in `rooms.protocol`; the consumer is `history.consumers`.
"""
