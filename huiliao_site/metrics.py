"""Prometheus metrics: defined once here, counted where things happen, served at /metrics.

Each process serves its own figures (prometheus_client's default registry); with several
Daphne processes, scrape each on its own port. Only HUILIAO_METRICS_ALLOW may read them.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

SOCKETS_OPEN = Gauge(
    "huiliao_sockets_open",
    "Open room sockets in this process, by how they authenticated and how frames reach them.",
    ["kind", "path"],
)
SOCKETS_CLOSED = Counter(
    "huiliao_sockets_closed",
    "Room sockets the server closed or refused, by close code.",
    ["code"],
)
ROOMS_LIVE = Gauge("huiliao_rooms_live", "Rooms with sockets in this process.")
FRAMES_SENT = Counter("huiliao_frames_sent", "Live frames handed to sockets.")
FRAMES_SENT_TOGETHER = Counter(
    "huiliao_frames_sent_together",
    "Live frames written to a socket in one write with others handled in the same turn "
    "(a process catching up).",
)
HANDSHAKE_SECONDS = Histogram(
    "huiliao_handshake_seconds",
    "From a socket's connect to its hello (credentials, membership and room read).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PUBLISH_TO_WRITE_SECONDS = Histogram(
    "huiliao_publish_to_write_seconds",
    "From an event's publication (after its commit) to its write to this process's sockets.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MESSAGES_STORED = Counter("huiliao_messages_stored", "Chat messages and notices stored.", ["kind"])
MESSAGE_STORE_SECONDS = Histogram(
    "huiliao_message_store_seconds",
    "A chat message's transaction, from its first statement to its commit: the database's "
    "share of the message's delay (every later post in the room waits behind a slow one).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_RESPONSES = Counter(
    "huiliao_http_responses", "HTTP responses, by status class (2xx, 4xx…).", ["status_class"]
)
LAYER_ERRORS = Counter(
    "huiliao_layer_errors",
    "Channel-layer operations that failed (publishing, receiving).",
    ["operation"],
)
GC_FROZEN_OBJECTS = Gauge(
    "huiliao_gc_frozen_objects",
    "Objects kept out of the garbage collector's passes (imports, settled sockets).",
)
GC_RELEASES = Counter(
    "huiliao_gc_releases",
    "Times the frozen objects were handed back and collected (after sockets closed).",
)


def _allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = settings.HUILIAO_METRICS_ALLOW
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request.META.get("REMOTE_ADDR", "")):
        return HttpResponse(status=404)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
