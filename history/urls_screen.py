from django.urls import path

from history import screen

urlpatterns = [
    path("r/<str:code>/screen/", screen.screen, name="room-screen"),
    path("r/<str:code>/screen/state", screen.screen_state_view, name="room-screen-state"),
]
