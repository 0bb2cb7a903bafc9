"""/healthz and /readyz: what a load balancer and an operator at 2 a.m. ask a process."""

import pytest
from channels.layers import channel_layers

from tests.servers import free_port


@pytest.fixture
def layer_settings(settings):
    """Swap the channel layer for the test; the next test gets the configured one."""
    channel_layers.backends.clear()
    yield settings
    channel_layers.backends.clear()


@pytest.mark.django_db
def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_when_database_and_layer_answer(client, layer_settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_readyz_says_which_service_is_down(client, layer_settings):
    # A Redis layer on a port nothing listens on: the layer is down, the database is not.
    layer_settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "database": "ok",
        "channel_layer": "unavailable",
        "code": "not_ready",
        "detail": "A service this process needs is unavailable.",
    }


def test_health_endpoints_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db
def test_readyz_follows_redis_down_and_back(client, layer_settings, own_redis):
    """With a Redis of its own: ready, then 503 naming the layer once it is killed, then
    ready again once it is back."""
    layer_settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [own_redis.url]},
        }
    }
    assert client.get("/readyz").json()["status"] == "ready"
    own_redis.kill()
    down = client.get("/readyz")
    assert (down.status_code, down.json()["channel_layer"]) == (503, "unavailable")
    own_redis.start()
    back = client.get("/readyz")
    assert (back.status_code, back.json()) == (
        200,
        {"status": "ready", "database": "ok", "channel_layer": "ok"},
    )
