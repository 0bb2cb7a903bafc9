"""Logging helpers shared by the whole site."""

import logging
import threading
import time


class FailureLog:
    """Logs an outage once with its traceback, then one line per interval with a count,
    and a line when it ends: a Redis outage during a busy session must not bury the log
    under one traceback per message."""

    def __init__(
        self,
        logger: logging.Logger,
        subject: str,
        interval: float = 60.0,
        *,
        traceback: bool = True,
    ) -> None:
        self.logger = logger
        self.traceback = traceback
        self.subject = subject
        self.interval = interval
        self.lock = threading.Lock()
        self.failing_since: float | None = None
        self.unreported = 0
        self.total = 0
        self.reported_at = 0.0

    def failed(self, exc: BaseException, *, what: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.total += 1
            if self.failing_since is None:
                self.failing_since = self.reported_at = now
                first = True
            else:
                first = False
                self.unreported += 1
                if now - self.reported_at < self.interval:
                    return
                count, self.unreported, self.reported_at = self.unreported, 0, now
        if first and self.traceback:
            self.logger.error("%s failed (%s)", self.subject, what, exc_info=exc)
        elif first:
            self.logger.error("%s failed (%s): %s", self.subject, what, exc)
        else:
            self.logger.error(
                "%s still failing: %d more failures in the last %.0f s (latest: %s)",
                *(self.subject, count, self.interval, exc),
            )

    def succeeded(self) -> None:
        if self.failing_since is None:  # the usual case: no lock taken
            return
        with self.lock:
            if self.failing_since is None:
                return
            seconds, total = time.monotonic() - self.failing_since, self.total
            self.failing_since, self.unreported, self.total = None, 0, 0
        self.logger.warning(
            "%s recovered after %.0f s and %d failures", self.subject, seconds, total
        )

    @property
    def failing(self) -> bool:
        return self.failing_since is not None
