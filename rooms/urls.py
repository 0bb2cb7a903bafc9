from django.urls import path

from rooms import api, api_contacts, api_moderation

# No trailing slashes, like accounts.urls. "nearby" comes before <code>: codes are 8
# characters, so no room can be called "nearby".
urlpatterns = [
    path("avatars", api.AvatarListView.as_view(), name="avatars"),
    path("rooms", api.RoomListView.as_view(), name="rooms"),
    path("rooms/nearby", api.RoomNearbyView.as_view(), name="rooms-nearby"),
    path("rooms/<str:code>", api.RoomDetailView.as_view(), name="room-detail"),
    path("rooms/<str:code>/announcement", api.AnnouncementView.as_view(), name="room-announcement"),
    path("rooms/<str:code>/members", api.MembersView.as_view(), name="room-members"),
    path("rooms/<str:code>/me-in-room", api_contacts.MeInRoomView.as_view(), name="room-me"),
    path("rooms/<str:code>/contacts", api_contacts.ContactsView.as_view(), name="room-contacts"),
    path(
        "rooms/<str:code>/contacts/<str:request_id>/accept",
        api_contacts.ContactAcceptView.as_view(),
        name="room-contact-accept",
    ),
    path(
        "rooms/<str:code>/contacts/<str:request_id>/decline",
        api_contacts.ContactDeclineView.as_view(),
        name="room-contact-decline",
    ),
    path("rooms/<str:code>/close", api_moderation.CloseView.as_view(), name="room-close"),
    path("rooms/<str:code>/reopen", api_moderation.ReopenView.as_view(), name="room-reopen"),
    path(
        "rooms/<str:code>/moderation-log",
        api_moderation.ModerationLogView.as_view(),
        name="room-moderation-log",
    ),
    *[
        path(
            f"rooms/<str:code>/members/<str:member_id>/{action}",
            view.as_view(),
            name=f"room-member-{action}",
        )
        for action, view in {
            "mute": api_moderation.MuteView,
            "unmute": api_moderation.UnmuteView,
            "ban": api_moderation.BanView,
            "unban": api_moderation.UnbanView,
            "role": api_moderation.RoleView,
        }.items()
    ],
]
