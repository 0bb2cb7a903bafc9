import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client

from tests.factories import StaffFactory, UserFactory
from tests.room_listener import listening


@pytest.fixture
def listen():
    yield from listening()


def organisers_group() -> Group:
    """The group migration 0002 makes. Transactional tests empty every table when they
    end, so it is made again here with the migration's own function when missing."""
    group = Group.objects.filter(name="Organisers").first()
    if group is None:
        migration = importlib.import_module("accounts.migrations.0002_organisers_group")
        migration.create_group(apps, None)
        group = Group.objects.get(name="Organisers")
    return group


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


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def organiser_client(organiser):
    return client_for(organiser)


@pytest.fixture
def superuser_client(superuser):
    return client_for(superuser)
