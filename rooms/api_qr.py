"""QR code endpoints: the image's URL, and the image itself at a chosen size.

Who may read them: the room's current members (anyone already inside may share the way
in) and those who may manage the room (its owner, superusers). Others get the same
403/404 as for the room's history.
"""

import hashlib

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from huiliao_site.api import error_responses
from huiliao_site.errors import InvalidInput
from rooms import qr
from rooms.permissions import CanReadRoom, RoomView


class QRCodeSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The PNG in the site's media storage.")
    join_url = serializers.URLField(help_text="The room's page: what the QR code holds.")


def parse_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return qr.SIZE_DEFAULT
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if not qr.SIZE_MIN <= size <= qr.SIZE_MAX:
        raise InvalidInput(
            f"size must be an integer between {qr.SIZE_MIN} and {qr.SIZE_MAX}.", code="invalid_size"
        )
    return size


class QRCodeView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="room_qrcode",
        responses={200: QRCodeSerializer, **error_responses(401, 403, 404, 429)},
        description="The room's QR code (its join URL, captioned with the room's name), "
        "drawn once and kept in media storage.",
    )
    def get(self, request, code: str):
        room = self.room
        url = qr.join_url(room, request)
        name = qr.qr_ensure(room=room, url=url)
        return Response({"url": qr.stored_url(name, request), "join_url": url})


class QRCodePNGView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="room_qrcode_png",
        parameters=[
            OpenApiParameter(
                "size",
                int,
                description=f"Width in px, {qr.SIZE_MIN}–{qr.SIZE_MAX}, default {qr.SIZE_DEFAULT}.",
            )
        ],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request, code: str):
        size = parse_size(request.query_params.get("size"))
        room = self.room
        url = qr.join_url(room, request)
        etag = '"{}"'.format(
            hashlib.sha256(f"{url}\n{room.name}\n{size}".encode()).hexdigest()[:32]
        )
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponse(status=304, headers=headers)
        data = qr.qr_png(room=room, url=url, size=size)
        return HttpResponse(data, content_type="image/png", headers=headers)


class WxacodeSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The PNG in the site's media storage.")


class WxacodeView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="room_wxacode",
        responses={200: WxacodeSerializer, **error_responses(401, 403, 404, 429, 502, 503)},
        description="The room's mini-program code: scanning it in WeChat opens the room in "
        "the mini-program (`scene` = the room's code, page WECHAT_MP_PAGE). Asked of WeChat "
        "once and kept. 503 `wechat_not_configured` without WECHAT_APPID; WeChat's refusals "
        "(45009 quota, 41030 page not published…) are 502 `wechat_error`.",
    )
    def get(self, request, code: str):
        name = qr.wxacode_ensure(room=self.room)
        return Response({"url": qr.stored_url(name, request)})
