import pytest

from tests.admin.helpers import client_for
from tests.factories import StaffFactory, UserFactory
from tests.organisers import organisers_group
from tests.room_listener import listening


@pytest.fixture
def listen():
    yield from listening()


def make_organiser(**kwargs):
    organiser = StaffFactory(**kwargs)
    organiser.groups.add(organisers_group())
    return organiser


@pytest.fixture
def organiser(db):
    return make_organiser(nickname="Org A")


@pytest.fixture
def other_organiser(db):
    return make_organiser(nickname="Org B")


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, nickname="Root", kind="staff")


@pytest.fixture
def organiser_client(organiser):
    return client_for(organiser)


@pytest.fixture
def superuser_client(superuser):
    return client_for(superuser)
