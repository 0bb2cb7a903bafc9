"""Organisers: log in through the admin, create a room at /new/, show its QR code."""

import io

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from rooms.models import Room
from tests.e2e.conftest import off_loop
from tests.factories import StaffFactory

pytestmark = pytest.mark.e2e


def test_organiser_creates_room_and_sees_qr(new_context, screenshot, settings):
    # The server process checks the password with the default hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    organiser = off_loop(StaffFactory, nickname="Organiser")
    venue = {"latitude": 39.9042, "longitude": 116.4074}
    page = new_context(geolocation=venue, permissions=["geolocation"]).new_page()

    page.goto("/new/")
    # Not logged in: the admin's login page, which brings them back here.
    page.fill("#id_username", organiser.username)
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Create a room")
    page.wait_for_load_state("load")  # the form's script is running

    page.fill("#id_name", "PyCon main hall")
    page.select_option("#id_expiry", "1d")
    page.check("#id_use_geofence")
    page.click("#locate-button")
    expect(page.locator("#locate-status")).to_have_text("Location set: 39.90420, 116.40740")
    page.fill("#id_radius_m", "500")
    screenshot(page, "form")
    page.click("button[type=submit]")

    expect(page.locator("#room-name")).to_have_text("PyCon main hall")
    room = Room.objects.get(name="PyCon main hall")
    assert (room.owner, room.latitude, room.longitude, room.radius_m) == (
        organiser,
        39.9042,
        116.4074,
        500,
    )
    assert page.url.endswith(f"/r/{room.code}/")

    page.click("#share-button")
    qr = page.locator("#qr-image")
    expect(qr).to_be_visible()
    page.wait_for_function("() => document.getElementById('qr-image').naturalWidth > 0")
    # The image the page shows is a QR code of this room's page.
    png = page.context.request.get(qr.get_attribute("src")).body()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [code.text.endswith(f"/r/{room.code}/") for code in decoded] == [True]
    expect(page.locator("#poster-link")).to_have_attribute("href", f"/r/{room.code}/poster/")
    screenshot(page, "qr")
