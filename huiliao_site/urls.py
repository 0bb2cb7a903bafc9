from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from huiliao_site.health import healthz, readyz
from huiliao_site.metrics import metrics_view

admin.site.site_header = _("Huiliao organiser console")
admin.site.site_title = _("Huiliao")
admin.site.index_title = _("Rooms and attendees")

handler400 = "huiliao_site.errors.bad_request"
handler404 = "huiliao_site.errors.page_not_found"
handler500 = "huiliao_site.errors.server_error"

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("rooms.urls")),
    path("", include("history.urls")),
    path("", include("rooms.urls_qr")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("rooms.urls_poster")),
    path("", include("history.urls_screen")),
    path("", include("rooms.urls_pages")),
]

if settings.DEBUG or settings.HUILIAO_SERVE_MEDIA:
    # QR images live in Django's default storage; in production put a CDN or the web
    # server in front of MEDIA_ROOT, or set HUILIAO_SERVE_MEDIA=1 for small setups.
    urlpatterns.append(
        path(
            f"{settings.MEDIA_URL.strip('/')}/<path:path>",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )
