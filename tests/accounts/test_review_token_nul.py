"""A token holding a NUL is a bad token (401 / anonymous socket), not a PostgreSQL crash."""

import pytest
from rest_framework.test import APIClient

from tests.accounts.test_channels_auth import (  # the fixture closes the worker's connection
    ANONYMOUS,
    _close_worker_connections,  # noqa: F401
    who,
)


@pytest.mark.django_db
def test_api_token_with_nul_is_401(postgres):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION="Token abc\x00def")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


@pytest.mark.django_db(transaction=True)
async def test_ws_auth_token_with_nul_is_anonymous(postgres):
    assert await who(("authorization", "Token abc\x00def")) == ANONYMOUS
