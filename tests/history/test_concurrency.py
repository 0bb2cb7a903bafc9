"""Concurrent posting on PostgreSQL: seqs stay 1..N with no gap and no duplicate, and a
client_id re-sent by racing requests is stored once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from history.models import Message
from rooms.models import Membership
from tests.factories import RoomFactory, UserFactory
from tests.helpers import api_client_for

THREADS = 8


def run_at_once(work, count: int) -> list:
    """Run work(i) for i in range(count) on THREADS threads released together."""
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> list:
        try:
            barrier.wait()
            return [work(i) for i in range(thread, count, THREADS)]
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(THREADS) as pool:
        return [r for results in pool.map(worker, range(THREADS)) for r in results]


def quiet_members(room, count: int) -> list:
    # Rows made directly, so no "joined" notice takes a seq: the posts below are 1..N.
    users = [UserFactory() for _ in range(count)]
    for user in users:
        Membership.objects.create(room=room, user=user, display_name=user.nickname, avatar="sun")
    return users


@pytest.mark.django_db(transaction=True)
def test_message_post_concurrent_threads_get_seqs_1_to_200(postgres, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    room = RoomFactory()
    users = quiet_members(room, THREADS)
    clients = [api_client_for(user) for user in users]

    def send(i: int) -> tuple[int, int]:
        response = clients[i % THREADS].post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": f"message {i}", "client_id": f"c-{i}"},
            format="json",
        )
        return response.status_code, response.json()["seq"]

    results = run_at_once(send, 200)
    assert sorted(status for status, _ in results) == [201] * 200
    assert sorted(seq for _, seq in results) == list(range(1, 201))
    assert list(
        Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True)
    ) == (list(range(1, 201)))
    room.refresh_from_db()
    assert room.last_seq == 200


@pytest.mark.django_db(transaction=True)
def test_message_post_concurrent_repeats_of_one_client_id_store_once(postgres, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    room = RoomFactory()
    (user,) = quiet_members(room, 1)
    client_for_thread = threading.local()

    def send(_i: int) -> tuple[int, dict]:
        if not hasattr(client_for_thread, "client"):
            client_for_thread.client = api_client_for(user)
        response = client_for_thread.client.post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": "only once", "client_id": "same-id"},
            format="json",
        )
        return response.status_code, response.json()

    results = run_at_once(send, THREADS * 3)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (THREADS * 3 - 1) + [201]
    assert {body["seq"] for _, body in results} == {1}
    assert len({str(body) for _, body in results}) == 1  # every answer is the stored message
    assert Message.objects.filter(room=room).count() == 1
    room.refresh_from_db()
    assert room.last_seq == 1


# --- the throttle under concurrent posts ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_throttle_holds_for_one_members_concurrent_posts(postgres, settings):
    settings.HUILIAO_POST_RATE_COUNT = 3
    settings.HUILIAO_POST_RATE_SECONDS = 60
    room = RoomFactory()
    (user,) = quiet_members(room, 1)

    def send(i: int) -> int:
        response = api_client_for(user).post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": f"burst {i}", "client_id": f"b-{i}"},
            format="json",
        )
        return response.status_code

    statuses = run_at_once(send, THREADS * 2)
    assert sorted(statuses) == [201] * 3 + [429] * (THREADS * 2 - 3)
    assert Message.objects.filter(room=room, sender=user).count() == 3
