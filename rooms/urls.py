from django.urls import path

from rooms import api

# No trailing slashes, like accounts.urls. "nearby" comes before <code>: codes are 8
# characters, so no room can be called "nearby".
urlpatterns = [
    path("avatars", api.AvatarListView.as_view(), name="avatars"),
    path("rooms", api.RoomListView.as_view(), name="rooms"),
    path("rooms/nearby", api.RoomNearbyView.as_view(), name="rooms-nearby"),
    path("rooms/<str:code>", api.RoomDetailView.as_view(), name="room-detail"),
    path("rooms/<str:code>/announcement", api.AnnouncementView.as_view(), name="room-announcement"),
    path("rooms/<str:code>/members", api.MembersView.as_view(), name="room-members"),
]
