from django.urls import path

from rooms import poster

urlpatterns = [
    path("r/<str:code>/poster/", poster.poster, name="room-poster"),
]
