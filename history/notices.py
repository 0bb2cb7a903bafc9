"""System notices ("Ann joined"): stored as an event and its parameters, and put into words
for each reader — a REST response in the request's language, a socket in its own (`?lang=`),
the CSV in the organiser's. The room hub words a notice once per language among its
sockets."""

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

JOINED = "joined"
LEFT = "left"

TEMPLATES = {
    JOINED: gettext_noop("%(name)s joined"),
    LEFT: gettext_noop("%(name)s left"),
}

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def notice_text(event: str, params: dict[str, Any], language: str | None = None) -> str:
    """The notice in `language` (None: the active one)."""
    template = TEMPLATES.get(event)
    if template is None:
        return ""
    if language is None:
        return gettext(template) % params
    with translation.override(language):
        return gettext(template) % params


def socket_language(requested: str | None, accept_language: str | None) -> str:
    """A socket's language: `?lang=` when it names one of ours, else the handshake's
    Accept-Language, else the site's default."""
    if requested:
        try:
            return translation.get_supported_language_variant(requested.lower())
        except LookupError:
            pass
    for code, _quality in translation.trans_real.parse_accept_lang_header(accept_language or ""):
        try:
            return translation.get_supported_language_variant(code.lower())
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
