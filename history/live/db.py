"""How the live path reaches the database."""

from channels.db import DatabaseSyncToAsync


def in_db_thread(func):
    """Run ORM work in the shared thread pool rather than the one thread-sensitive
    thread: a join burst's reads then run side by side instead of queueing behind each
    other (Daphne refuses handshakes that take longer than its connect timeout)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False)
