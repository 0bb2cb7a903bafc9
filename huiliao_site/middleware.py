"""Middleware of our own, kept apart from the settings that list it."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from whitenoise.middleware import WhiteNoiseMiddleware

from huiliao_site import metrics
from huiliao_site.errors import (
    database_failures,
    database_unavailable,
    database_unavailable_response,
)


class SyncAndAsync:
    """A middleware that runs in the mode of the chain below it: a sync-only middleware
    would put a thread hop, and a wait on the event loop, into every request under ASGI.
    Subclasses call `_adopt(get_response)` and define `_call` (sync) and `_acall`."""

    sync_capable = True
    async_capable = True

    def _adopt(self, get_response) -> None:
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return self._call(request)


class AsyncWhiteNoiseMiddleware(SyncAndAsync, WhiteNoiseMiddleware):
    """WhiteNoise (6.x) is sync-only. Under ASGI one sync-only middleware makes Django run
    the whole chain below it in a worker thread that waits on the event loop for the rest
    of the request: a thread hop per request, and a thread stuck for good when Daphne
    stops its loop on SIGTERM (the process then never exits). This serves the same files
    the same way and stays on the loop for everything else."""

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        self._adopt(get_response)

    def _call(self, request):
        return WhiteNoiseMiddleware.__call__(self, request)

    async def _acall(self, request):
        # A dictionary look-up (or, in DEBUG only, a stat of the static directories), and
        # an open() of the file found: nothing that needs a thread.
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)


class DatabaseUnavailableMiddleware(SyncAndAsync):
    """A view that lost its database connection (PostgreSQL restarted, a backend was
    terminated, the pool stayed empty) answers 503 database_unavailable with Retry-After,
    in DEBUG too. Its transaction rolled back, so retrying with the same client_id is
    safe. The outage is logged once with its traceback, then counted."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._adopt(get_response)

    def _call(self, request):
        return self._seen(self.get_response(request))

    async def _acall(self, request):
        return self._seen(await self.get_response(request))

    @staticmethod
    def _seen(response):
        if response.status_code < 500:
            database_failures.succeeded()
        return response

    def process_exception(self, request, exception):
        unavailable = database_unavailable(exception)
        if unavailable is None:
            return None
        database_failures.failed(exception, what=f"{request.method} {request.path}")
        return database_unavailable_response(request, unavailable)


class ResponseCounter(SyncAndAsync):
    """Counts responses by status class (huiliao_site.metrics), in the chain's own mode."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._adopt(get_response)

    def _call(self, request):
        return self._counted(self.get_response(request))

    async def _acall(self, request):
        return self._counted(await self.get_response(request))

    @staticmethod
    def _counted(response):
        metrics.HTTP_RESPONSES.labels(f"{response.status_code // 100}xx").inc()
        return response
