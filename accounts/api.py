import unicodedata

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import NICKNAME_MAX_LENGTH, User
from huiliao_site.api import OneLineTextField, StrictCharField, error_responses
from huiliao_site.throttles import LiveScopedRateThrottle


def reject_control_characters(value: str) -> None:
    # A nickname is shown inside system messages and on posters: no line breaks or
    # terminal escapes.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError("Must not contain control characters.")


class NicknameField(OneLineTextField):
    # DRF trims whitespace before the length validators run, so 1-32 applies to the
    # trimmed nickname, and the schema shows the real bounds.
    def __init__(self, **kwargs):
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", NICKNAME_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(reject_control_characters)


class HttpUrlField(serializers.URLField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        # Django's URLValidator also accepts ftp(s); an avatar is an <img src>, so only
        # http(s) — never javascript:, data: or ftp:.
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http(s) URLs are allowed.")
        return value


# An account's avatar as the API shows it: an http(s) URL, or "" when none is set (so not
# declared a "uri", which "" is not).
AVATAR_URL_OUT = {"read_only": True, "help_text": "An http(s) URL, or blank when none is set."}


class PublicUserSerializer(serializers.ModelSerializer):
    # What anyone may see of a user. Never add openid (or username, email) here.
    avatar_url = StrictCharField(**AVATAR_URL_OUT)

    class Meta:
        model = User
        fields = ["id", "nickname", "avatar_url", "kind"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    # The caller's own profile; still never openid.
    avatar_url = StrictCharField(**AVATAR_URL_OUT)

    class Meta:
        model = User
        fields = ["id", "nickname", "avatar_url", "kind", "is_staff", "date_joined"]
        read_only_fields = fields


class MeUpdateSerializer(serializers.Serializer):
    nickname = NicknameField(required=False)
    avatar_url = HttpUrlField(required=False, allow_blank=True, help_text="Blank clears it.")


class AuthResultSerializer(serializers.Serializer):
    token = StrictCharField(help_text="Send it as `Authorization: Token <token>`.")
    user = MeSerializer()


class WechatLoginSerializer(serializers.Serializer):
    code = StrictCharField(max_length=128, help_text="The code from `wx.login()`.")
    # Optional profile from the mini-program; blank keeps the stored one.
    nickname = NicknameField(min_length=None, required=False, allow_blank=True, default="")
    avatar_url = HttpUrlField(required=False, allow_blank=True, default="")


class GuestLoginSerializer(serializers.Serializer):
    nickname = NicknameField()


class LoginThrottleMixin:
    throttle_classes = [LiveScopedRateThrottle]
    throttle_scope = "login"
    permission_classes = [AllowAny]
    # Login endpoints take no session: a stale CSRF-less session must not block a login.
    authentication_classes: list = []


class WechatLoginView(LoginThrottleMixin, APIView):
    @extend_schema(
        tags=["accounts"],
        operation_id="auth_wechat",
        request=WechatLoginSerializer,
        responses={
            200: AuthResultSerializer,
            **error_responses(
                400,
                403,
                429,
                502,
                503,
                e400="Invalid input, or WeChat refused the code (`wechat_invalid_code`: call "
                "`wx.login()` again).",
                e403="The account is disabled (`account_disabled`).",
                e502="WeChat failed: `wechat_timeout`, `wechat_unreachable`, `wechat_error`, "
                "`wechat_bad_response`. No user is created.",
                e503="WeChat login is not configured on this server (`wechat_not_configured`).",
            ),
        },
        description="Log in with a `wx.login` code. Creates the user on first login.",
    )
    def post(self, request):
        data = WechatLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_login_wechat(**data.validated_data)
        return Response({"token": token, "user": MeSerializer(user).data})


class GuestLoginView(LoginThrottleMixin, APIView):
    @extend_schema(
        tags=["accounts"],
        operation_id="auth_guest",
        request=GuestLoginSerializer,
        responses={201: AuthResultSerializer, **error_responses(400, 429)},
        description="Create a guest user for a browser; also logs the browser session in.",
    )
    def post(self, request):
        data = GuestLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_create_guest(
            nickname=data.validated_data["nickname"], request=request._request
        )
        return Response(
            {"token": token, "user": MeSerializer(user).data}, status=status.HTTP_201_CREATED
        )


class LogoutView(APIView):
    @extend_schema(
        tags=["accounts"],
        operation_id="auth_logout",
        request=None,
        responses={204: None, **error_responses(401, 403)},
        description="Revoke the caller's token and end the browser session.",
    )
    def post(self, request):
        services.user_logout(user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        tags=["accounts"],
        operation_id="me_get",
        responses={200: MeSerializer, **error_responses(401)},
        description="The caller's own profile.",
    )
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        tags=["accounts"],
        operation_id="me_update",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **error_responses(400, 401, 403)},
        description="Change the caller's nickname (1-32 characters after trimming) or "
        "avatar_url (http or https only; blank clears it).",
    )
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(
            user=request.user,
            nickname=data.validated_data.get("nickname"),
            avatar_url=data.validated_data.get("avatar_url"),
        )
        return Response(MeSerializer(user).data)


class UserDetailView(APIView):
    @extend_schema(
        tags=["accounts"],
        operation_id="user_get",
        responses={
            200: PublicUserSerializer,
            **error_responses(401, 404, e404="No such user (`user_not_found`)."),
        },
        description=(
            "A public profile: my own, an organiser's, or anyone's for staff. Another "
            "attendee's profile is `user_not_found`, like an unknown or inactive user: "
            "attendees know each other only by their per-room display name and avatar."
        ),
    )
    def get(self, request, user_id):
        return Response(
            PublicUserSerializer(
                selectors.user_get_public(user_id=user_id, viewer=request.user)
            ).data
        )
