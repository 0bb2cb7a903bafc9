"""Room services below the API: codes, the seq counter, the geofence by real distance."""

import datetime as dt
import itertools
import secrets

import pytest
from django.utils import timezone

from huiliao_site.errors import Gone, InvalidInput, PermissionDenied
from rooms import geo, services
from rooms.models import CODE_ALPHABET, Room
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

VENUE = services.Geofence(latitude=31.2304, longitude=121.4737, radius_m=100)


def test_room_code_alphabet_has_no_ambiguous_characters():
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert len(CODE_ALPHABET) == 31


def test_room_create_retries_a_colliding_code(user, monkeypatch):
    RoomFactory(owner=user)
    Room.objects.update(code="AAAAAAAA")
    # secrets is outside the project: make it draw the taken code first, then a free one.
    draws = itertools.chain(["A"] * 8, ["B"] * 8)
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(draws))
    room = services.room_create(owner=user, name="Second")
    assert room.code == "BBBBBBBB"
    assert sorted(Room.objects.values_list("code", flat=True)) == ["AAAAAAAA", "BBBBBBBB"]


def test_room_next_seq_counts_from_the_room_row(room):
    assert [services.room_next_seq(room=room) for _ in range(3)] == [1, 2, 3]
    room.refresh_from_db()
    assert room.last_seq == 3
    other = RoomFactory()
    assert services.room_next_seq(room=other) == 1


def test_room_next_seq_requiring_open_refuses_a_room_closed_or_expired_meanwhile(room):
    # The caller's room object still looks open: the statement itself must look again.
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    with pytest.raises(Gone) as closed:
        services.room_next_seq(room=room, require_open=True)
    assert (closed.value.code, closed.value.status_code) == ("room_closed", 410)
    expired = RoomFactory()
    Room.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Gone):
        services.room_next_seq(room=expired, require_open=True)
    assert Room.objects.get(pk=room.pk).last_seq == 0
    assert services.room_next_seq(room=room) == 1  # system notices still get a seq


@pytest.mark.parametrize(("metres", "allowed"), [(0, True), (97, True), (100, True), (103, False)])
def test_geofence_check_by_real_distance(metres, allowed):
    room = RoomFactory(geofence=VENUE)
    latitude = VENUE.latitude + metres / geo.EARTH_RADIUS_M * 180 / 3.141592653589793
    user = UserFactory()
    if allowed:
        services.geofence_check(room=room, user=user, latitude=latitude, longitude=VENUE.longitude)
    else:
        with pytest.raises(PermissionDenied) as refused:
            services.geofence_check(
                room=room, user=user, latitude=latitude, longitude=VENUE.longitude
            )
        assert refused.value.code == "outside_geofence"


def test_geofence_distance_is_haversine_metres():
    # One degree of a great circle on the mean Earth radius is 111,195 m, whatever the
    # direction; the original compared degrees instead.
    assert round(geo.distance_m(0, 0, 1, 0)) == 111_195
    assert round(geo.distance_m(0, 0, 0, 1)) == 111_195
    assert round(geo.distance_m(60, 0, 60, 1)) == 55_597  # a degree of longitude shrinks
    assert geo.distance_m(31.2, 121.4, 31.2, 121.4) == 0


def test_room_create_rejects_out_of_range_geofence(user):
    with pytest.raises(InvalidInput) as refused:
        services.room_create(
            owner=user, name="x", geofence=services.Geofence(latitude=0, longitude=0, radius_m=49)
        )
    assert refused.value.code == "invalid_geofence"
