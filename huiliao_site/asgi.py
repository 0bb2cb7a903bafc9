import asyncio
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
# Django first: the routing below imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.channels_auth import WebsocketAuthMiddleware  # noqa: E402
from history.live.fastpath import fast_path_status  # noqa: E402
from history.routing import websocket_urlpatterns  # noqa: E402

logging.getLogger("history.live").info(fast_path_status())

from rooms.events import bind_server_loop  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)


async def application(scope, receive, send):
    # Worker threads publish on the server's loop with a bounded wait (rooms.events).
    bind_server_loop(asyncio.get_running_loop())
    return await router(scope, receive, send)
