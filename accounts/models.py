import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

NICKNAME_MAX_LENGTH = 32


class User(AbstractUser):
    """A person: a WeChat user, a browser guest, or staff (organisers and operators).

    `openid` is WeChat's identifier for the user within our app. It never leaves the
    server: no serializer, event, page, log line or `__str__` shows it.
    """

    class Kind(models.TextChoices):
        WECHAT = "wechat", _("WeChat")
        GUEST = "guest", _("Guest")
        STAFF = "staff", _("Staff")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nickname = models.CharField(_("nickname"), max_length=NICKNAME_MAX_LENGTH, blank=True)
    avatar_url = models.URLField(_("avatar URL"), max_length=500, blank=True)
    openid = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.STAFF)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.nickname or self.username

    @property
    def public_name(self) -> str:
        return self.nickname or self.username
