import asyncio
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
# Django first: the routing below imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from accounts.channels_auth import WebsocketAuthMiddleware  # noqa: E402
from history.live import collector  # noqa: E402
from history.live.fastpath import fast_path_status  # noqa: E402
from history.routing import websocket_urlpatterns  # noqa: E402
from rooms.events import bind_server_loop  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)

# Everything is imported (the views too, which Django would import on the first request):
# from here on, what exists lives as long as the process.
get_resolver().url_patterns  # noqa: B018
collector.freeze_imports()
logging.getLogger("history.live").info("%s; %s", fast_path_status(), collector.status())


async def application(scope, receive, send):
    # Worker threads publish on the server's loop with a bounded wait (rooms.events).
    bind_server_loop(asyncio.get_running_loop())
    return await router(scope, receive, send)
