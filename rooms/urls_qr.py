from django.urls import path

from rooms import api_qr

urlpatterns = [
    path("rooms/<str:code>/qrcode", api_qr.QRCodeView.as_view(), name="room-qrcode"),
    path("rooms/<str:code>/qrcode.png", api_qr.QRCodePNGView.as_view(), name="room-qrcode-png"),
    path("rooms/<str:code>/wxacode", api_qr.WxacodeView.as_view(), name="room-wxacode"),
]
