from django.urls import path

from history import api

urlpatterns = [
    path("rooms/<str:code>/enter", api.EnterView.as_view(), name="room-enter"),
    path("rooms/<str:code>/leave", api.LeaveView.as_view(), name="room-leave"),
    path("rooms/<str:code>/messages", api.MessagesView.as_view(), name="room-messages"),
    path(
        "rooms/<str:code>/messages/info", api.MessagesInfoView.as_view(), name="room-messages-info"
    ),
    path(
        "rooms/<str:code>/messages/<int:seq>", api.MessageDetailView.as_view(), name="room-message"
    ),
]
