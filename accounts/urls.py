from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/wechat", api.WechatLoginView.as_view(), name="auth-wechat"),
    path("auth/guest", api.GuestLoginView.as_view(), name="auth-guest"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("me", api.MeView.as_view(), name="me"),
    path("users/<uuid:user_id>", api.UserDetailView.as_view(), name="user-detail"),
]
