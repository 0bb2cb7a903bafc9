from django.urls import path

from rooms import views

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.room_new, name="room-new"),
    path("r/<str:code>/", views.room_page, name="room-page"),
]
