"""Health endpoints for a load balancer and an operator.

`/healthz` answers while the process serves requests at all (liveness: restart it if
not). `/readyz` says whether it can do its work: the database answers and the channel
layer (Redis, with several processes) takes a message. A load balancer stops sending
traffic to a process that is not ready and resumes when it is. Neither names a host, a
version or a secret.
"""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from rooms import events


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


@never_cache
@require_GET
def readyz(request):
    checks = {
        "database": "ok" if _database_ok() else "unavailable",
        "channel_layer": "ok" if events.layer_ok() else "unavailable",
    }
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not_ready", **checks}
    if not ready:
        body.update(code="not_ready", detail="A service this process needs is unavailable.")
    return JsonResponse(body, status=200 if ready else 503)
