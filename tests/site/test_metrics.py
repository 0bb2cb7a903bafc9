"""/metrics: Prometheus text from prometheus_client, loopback only by default; the names
an operator's dashboards use, and counters that move when things happen."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import RoomFactory, join
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

NAMES = {
    "huiliao_sockets_open",
    "huiliao_sockets_closed",
    "huiliao_rooms_live",
    "huiliao_frames_sent",
    "huiliao_handshake_seconds",
    "huiliao_publish_to_write_seconds",
    "huiliao_messages_stored",
    "huiliao_message_store_seconds",
    "huiliao_http_responses",
    "huiliao_layer_errors",
}


def scrape() -> dict[str, dict]:
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[key] = sample.value
    return {"names": {f.name for f in text_string_to_metric_families(text)}, "samples": samples}


def test_metrics_names_are_the_documented_ones():
    found = scrape()["names"]
    assert NAMES <= found, NAMES - found


def test_counters_move_when_messages_are_stored_and_responses_served(
    django_capture_on_commit_callbacks,
):
    before = scrape()["samples"]
    room = RoomFactory()
    ann = join(room, display_name="Ann")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(ann.user).post(
            f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "m1"}, format="json"
        )
    assert response.status_code == 201
    after = scrape()["samples"]

    def moved(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert moved("huiliao_messages_stored_total|kind=text") == 1
    assert moved("huiliao_message_store_seconds_count") == 1
    assert moved("huiliao_http_responses_total|status_class=2xx") >= 2  # the post, a scrape


def test_metrics_are_for_allowed_addresses_only():
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 404


def test_a_refused_post_is_not_timed_as_a_stored_one():
    before = scrape()["samples"]
    room = RoomFactory()
    ann = join(room, display_name="Ann")
    ann.muted_until = room.created_at.replace(year=room.created_at.year + 1)
    ann.save(update_fields=["muted_until"])
    response = api_client_for(ann.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "m1"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "muted"
    after = scrape()["samples"]
    assert after.get("huiliao_message_store_seconds_count", 0) == before.get(
        "huiliao_message_store_seconds_count", 0
    )
