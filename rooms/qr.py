"""QR codes for rooms: a PNG of the room's join URL with the room's name captioned under it.

The image is rendered once and kept in Django's default storage as `qrcodes/<code>.png`
(the seed rendered a new one on every request). The URL and name it was drawn for are
written into the PNG's own text chunks, so a later call can tell, from the file alone,
whether it is still right — it is redrawn only when the public URL or the name changed.
"""

import base64
import glob
import io
import logging
import os
from functools import lru_cache

import qrcode
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin
from qrcode.constants import ERROR_CORRECT_M

from accounts import wechat
from rooms.models import Room

logger = logging.getLogger(__name__)

SIZE_MIN = 200
SIZE_MAX = 1200
SIZE_DEFAULT = 400  # the seed's width
MASTER_WIDTH = SIZE_MAX  # stored once at the largest size; smaller sizes are scaled down
META_URL = "huiliao-url"
META_NAME = "huiliao-name"

# Fonts with Chinese glyphs, best first. Debian's fonts-noto-cjk ships the first; the
# others cover common distributions. HUILIAO_QR_FONT (a font file) wins over all of them.
FONT_CANDIDATES = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: Simplified Chinese
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
]
FONT_GLOBS = ["/usr/share/fonts/**/*CJK*", "/usr/share/fonts/**/*[Hh]ei*"]


def public_base_url(request: HttpRequest | None = None) -> str:
    """HUILIAO_PUBLIC_URL when set (behind a proxy the request may not know the public
    host), else the request's own scheme and host; without either, the development server."""
    if settings.HUILIAO_PUBLIC_URL:
        return settings.HUILIAO_PUBLIC_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return "http://127.0.0.1:8000"


def join_url(room: Room, request: HttpRequest | None = None) -> str:
    """The URL every QR code and poster holds: the room's page."""
    return f"{public_base_url(request)}/r/{room.code}/"


SCREEN_SALT = "huiliao.screen"


def screen_key(room: Room) -> str:
    """The signature that opens this room's projector screen (and no other room's), so
    the laptop at the projector needs no account (history.screen)."""
    return signing.Signer(salt=SCREEN_SALT).signature(room.code)


def screen_path(room: Room) -> str:
    return f"/r/{room.code}/screen/?key={screen_key(room)}"


def storage_name(room: Room) -> str:
    return f"qrcodes/{room.code}.png"


@lru_cache(maxsize=1)
def _font_file() -> tuple[str, int] | None:
    configured = settings.HUILIAO_QR_FONT
    if configured and os.path.exists(configured):
        return configured, 0
    for path, index in FONT_CANDIDATES:
        if os.path.exists(path):
            return path, index
    for pattern in FONT_GLOBS:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if path.lower().endswith((".ttc", ".otf", ".ttf")):
                return path, 0
    return None


def caption_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A font with Chinese glyphs at `size` px; Pillow's own font when none is installed
    (Chinese then shows as boxes, but the QR code still renders)."""
    found = _font_file()
    if found is not None:
        path, index = found
        try:
            return ImageFont.truetype(path, size=size, index=index)
        except OSError:
            try:
                return ImageFont.truetype(path, size=size)
            except OSError:
                logger.warning("cannot load QR caption font %s; using Pillow's default", path)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType: a fixed bitmap font
        return ImageFont.load_default()


def _fit_caption(draw: ImageDraw.ImageDraw, text: str, width: int, size: int):
    """Shrink the font until the caption fits on one line; past the smallest size, cut
    the text and end it with an ellipsis."""
    smallest = max(12, size // 2)
    for font_size in range(size, smallest - 1, -2):
        font = caption_font(font_size)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = caption_font(smallest)
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…", font


def render_png(*, url: str, caption: str, width: int = MASTER_WIDTH) -> bytes:
    """The QR code of `url`, `width` px wide, with `caption` centred under it."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=4)
    code.add_data(url)
    code.make(fit=True)
    # Whole pixels per module keep every module the same size (scanners like that best).
    code.box_size = max(1, width // (code.modules_count + 2 * code.border))
    qr_image = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    qr_side = qr_image.width

    margin = width // 16
    font_size = max(14, width // 18)
    # The caption sits in the lower half of the code's quiet zone, so no gap looks empty.
    caption_top = qr_side - (code.border * code.box_size) // 2
    canvas = Image.new("L", (width, caption_top + font_size * 2), color=255)
    canvas.paste(qr_image, ((width - qr_side) // 2, 0))
    caption = " ".join(caption.split())
    if caption:
        draw = ImageDraw.Draw(canvas)
        try:
            text, font = _fit_caption(draw, caption, width - 2 * margin, font_size)
            draw.text((width // 2, caption_top), text, fill=0, font=font, anchor="ma")
        except Exception:
            # A caption is a nicety; a QR code without one still lets people in.
            logger.exception("could not draw the QR caption")

    info = PngImagePlugin.PngInfo()
    info.add_itxt(META_URL, url)
    info.add_itxt(META_NAME, caption)
    out = io.BytesIO()
    canvas.save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG inline in a page (the poster, the projector screen): no second request."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _stored_metadata(name: str) -> tuple[str, str] | None:
    try:
        with default_storage.open(name, "rb") as handle:
            image = Image.open(handle)
            return image.info.get(META_URL), image.info.get(META_NAME)
    except (FileNotFoundError, OSError, ValueError):
        return None


def qr_ensure(*, room: Room, url: str) -> str:
    """The storage name of the room's QR image, drawn now only if missing or stale."""
    name = storage_name(room)
    caption = " ".join(room.name.split())
    if _stored_metadata(name) == (url, caption):
        return name
    data = render_png(url=url, caption=caption)
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        # A concurrent request drew the same image first; its file is as good as ours.
        default_storage.delete(saved)
    return name


def qr_png(*, room: Room, url: str, size: int = SIZE_DEFAULT) -> bytes:
    """The stored QR image scaled to `size` px wide (SIZE_MIN..SIZE_MAX)."""
    name = qr_ensure(room=room, url=url)
    with default_storage.open(name, "rb") as handle:
        image = Image.open(handle)
        image.load()
    if image.width != size:
        height = round(image.height * size / image.width)
        image = image.resize((size, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- the mini-program code ------------------------------------------------------------------


def wxacode_storage_name(room: Room) -> str:
    return f"wxacodes/{room.code}.png"


def wxacode_ensure(*, room: Room) -> str:
    """The storage name of the room's mini-program code (scanning it opens the room in
    the mini-program, `scene` = the room's code), asked of WeChat once and kept."""
    name = wxacode_storage_name(room)
    if default_storage.exists(name):
        return name
    data = wechat.wxacode_png(scene=room.code)
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        # A concurrent request stored the same code first; its file is as good as ours.
        default_storage.delete(saved)
    return name


def stored_url(name: str, request=None) -> str:
    """A stored image's public URL (absolute under the public base for media on this site;
    a CDN's URL is absolute already)."""
    url = default_storage.url(name)
    return public_base_url(request) + url if url.startswith("/") else url
