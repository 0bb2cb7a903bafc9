"""A hall voting at once: the room hub sends each question's count at most once per
500 ms, with the latest value, however many votes arrive."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from history import services as history_services
from history.models import Question
from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


def make_question_and_voters(room, count: int):
    author = join(room, UserFactory(), display_name="Asker")
    question, _ = history_services.question_ask(
        room=room, user=author.user, body="Slides?", client_id="q"
    )
    voters = [join(room, UserFactory()).user for _ in range(count)]
    return question, voters


def vote_all(question: Question, voters) -> None:
    for voter in voters:
        history_services.question_vote(question=question, user=voter, up=True)


async def test_twenty_votes_reach_a_socket_as_at_most_two_frames_with_the_final_count(room, user):
    question, voters = await database_sync_to_async(make_question_and_voters)(room, 20)
    socket, _ = await open_member_socket(room.code, user)
    await database_sync_to_async(vote_all)(question, voters)
    counts = []
    while not counts or counts[-1] != 20:
        frame = await receive(socket)
        if frame["type"] == "question_votes":
            counts.append(frame["votes"])
    await asyncio.sleep(0.7)  # a third frame would have come by now
    assert await socket.receive_nothing(timeout=0.1)
    assert 1 <= len(counts) <= 2, counts
    assert counts[-1] == 20
    await socket.disconnect()
