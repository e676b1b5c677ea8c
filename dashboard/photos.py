"""A resident's photo, made safe to keep: at most ``MAX_PHOTO_BYTES``, decoded to decide its
type (JPEG, PNG or WebP; never the file name or the declared type), at most
``MAX_PIXELS`` (a decompression bomb is refused before it is decoded), turned upright from
its EXIF orientation, flattened on white, shrunk to ``MAX_SIDE`` and re-encoded as a JPEG
that carries no metadata at all (no EXIF, so no GPS position or camera; no ICC, XMP or
comment). Every refusal is a ``PhotoRefused`` whose message a resident can read."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 8 * 2**20
MAX_SIDE = 1600  # the longest side kept, in pixels
MAX_PIXELS = 40_000_000  # declared width x height; more is refused before decoding
ACCEPTED = ("JPEG", "PNG", "WEBP")
MEDIA_TYPE = "image/jpeg"
QUALITY = 82

TOO_LARGE = "the photo is larger than 8 MB"
EMPTY = "the file is empty"
NOT_A_PHOTO = "the file is not a JPEG, PNG or WebP photo"
UNREADABLE = "the photo could not be read"
TOO_MANY_PIXELS = f"the photo has more than {MAX_PIXELS // 1_000_000} megapixels"

# What decoding a damaged or hostile file may raise (Pillow's decoders and parsers).
_DECODING_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError,
                    TypeError, ZeroDivisionError)
_DATA_URL = re.compile(r"data:[\w.+/-]*(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.ASCII)
_MAX_BASE64 = (MAX_PHOTO_BYTES + 2) // 3 * 4  # characters encoding MAX_PHOTO_BYTES


class PhotoRefused(ValueError):
    """A photo that cannot be kept; the message is one line for the resident."""


@dataclass(frozen=True)
class CleanPhoto:
    """A photo re-encoded without metadata: its bytes, media type and size in pixels."""

    content: bytes
    media_type: str
    width: int
    height: int


def _opened(data: bytes) -> Image.Image:
    """The photo opened (not decoded) as one of ``ACCEPTED``, its declared size checked."""
    try:
        image = Image.open(BytesIO(data), formats=ACCEPTED)
    except UnidentifiedImageError:
        raise PhotoRefused(NOT_A_PHOTO) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(TOO_MANY_PIXELS) from None
    except _DECODING_ERRORS:
        raise PhotoRefused(UNREADABLE) from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        image.close()
        raise PhotoRefused(TOO_MANY_PIXELS if width * height else UNREADABLE)
    return image


def _flattened(image: Image.Image) -> Image.Image:
    """A new RGB image of ``image`` on white (transparency flattened), with no ``info``."""
    clean = Image.new("RGB", image.size, "white")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        clean.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    return clean


def _decoded(data: bytes) -> Image.Image:
    """The photo decoded, upright, at most ``MAX_SIDE`` and flattened to RGB."""
    with _opened(data) as image:
        try:
            image.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRefused(TOO_MANY_PIXELS) from None
        except _DECODING_ERRORS:
            raise PhotoRefused(UNREADABLE) from None
    with _opened(data) as image:  # verify() leaves the image unusable: open it again
        try:
            if image.format == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at a reduced scale
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            return _flattened(upright)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRefused(TOO_MANY_PIXELS) from None
        except _DECODING_ERRORS:
            raise PhotoRefused(UNREADABLE) from None


def clean_photo(data: bytes) -> CleanPhoto:
    """``data`` checked and re-encoded as a metadata-free JPEG; PhotoRefused otherwise."""
    if not data:
        raise PhotoRefused(EMPTY)
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(TOO_LARGE)
    image = _decoded(data)
    out = BytesIO()
    image.save(out, "JPEG", quality=QUALITY, optimize=True)
    return CleanPhoto(out.getvalue(), MEDIA_TYPE, image.width, image.height)


def decode_data_url(contents: str) -> bytes:
    """The bytes of a ``data:...;base64,...`` URL (what Dash's ``dcc.Upload`` gives); the
    declared type is ignored (``clean_photo`` decides); PhotoRefused when malformed."""
    if not isinstance(contents, str):
        raise PhotoRefused(UNREADABLE)
    header = _DATA_URL.match(contents[:200])
    if header is None:
        raise PhotoRefused(UNREADABLE)
    encoded = contents[header.end():]
    if len(encoded) > _MAX_BASE64 + 4:  # refused before decoding anything
        raise PhotoRefused(TOO_LARGE)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoRefused(UNREADABLE) from None
    if not data:
        raise PhotoRefused(EMPTY)
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(TOO_LARGE)
    return data
