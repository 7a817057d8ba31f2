"""Photos on cases: checked by their bytes, stored privately, shown publicly only without metadata.

A phone photo carries the reporter's exact position, the time and the device in its EXIF block.
The original is kept privately (``Attachment.file``, evidence for the case); everything shown to
anyone else uses ``public_file`` and ``thumbnail``, which are re-encoded from the pixels alone
after the EXIF orientation has been applied, so no metadata of the original can survive.

An upload is accepted only when Pillow recognises it as a JPEG, PNG or WebP image from its
content (the file name and the browser's content type are ignored), it is within the size limit
(``cases.photo_max_bytes``) and within the pixel limit (``cases.photo_max_pixels``, so a small
file cannot unpack into gigabytes: a decompression bomb). Every refusal is a ``PhotoError`` with
a Chinese message and a stable ``code``.
"""

from __future__ import annotations

import hashlib
import io
import math
import uuid
import warnings
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from towngrid.core import audit, config

from .models import Attachment, AttachmentKind, Case, CaseEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Used when the configuration key cannot be read (e.g. a bare script without the registry).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# 64 megapixels: above every phone camera's default output (a 108 MP sensor saves 12 MP by
# default), far below what would exhaust a web worker's memory once decoded (RGBA ≈ 256 MB).
DEFAULT_MAX_PIXELS = 64_000_000

config.register(
    "cases.photo_max_pixels",
    DEFAULT_MAX_PIXELS,
    "照片像素上限",
    # Capped below Pillow's own bomb threshold (Image.MAX_IMAGE_PIXELS, about 89 MP), which
    # this module turns into an error as well.
    config.positive_int(1_000_000, 89_000_000),
    "宽×高超过此值的图片被拒绝（防止“解压炸弹”）。",
)

# Pillow's own format names; MPO is the multi-picture JPEG that many phones write.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
ACCEPTED = ("JPEG", "PNG", "WEBP")  # the MPO plugin is reached through JPEG
PUBLIC_MAX_SIDE = 2560  # the public copy is for viewing; the original keeps the full size
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 85

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LNG_REF, GPS_LNG = 1, 2, 3, 4


class PhotoError(ValueError):
    """An upload refused as a photo. ``code`` is one of ``not_an_image``, ``too_large``,
    ``too_many_pixels``; the message is for the user (Chinese)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def max_bytes() -> int:
    try:
        return int(config.get("cases.photo_max_bytes"))
    except KeyError:  # the key is registered by core.config; a stripped-down install may not
        return DEFAULT_MAX_BYTES


def max_pixels() -> int:
    try:
        return int(config.get("cases.photo_max_pixels"))
    except KeyError:
        return DEFAULT_MAX_PIXELS


def _read(uploaded_file: IO[bytes] | bytes, limit: int) -> bytes:
    """The upload's bytes, refusing before reading it all when it is over the limit."""
    if isinstance(uploaded_file, bytes | bytearray):
        data = bytes(uploaded_file)
    else:
        size = getattr(uploaded_file, "size", None)
        if isinstance(size, int) and size > limit:
            raise _too_large(limit)
        if hasattr(uploaded_file, "seek"):
            uploaded_file.seek(0)
        # One byte more than allowed is enough to know it is too large.
        data = uploaded_file.read(limit + 1)
        if hasattr(uploaded_file, "seek"):
            uploaded_file.seek(0)  # the caller (e.g. the location hint) may read it again
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise PhotoError("not_an_image", "文件为空，请重新选择照片。")
    return data


def _too_large(limit: int) -> PhotoError:
    return PhotoError("too_large", f"照片过大：最大 {limit / 1024 / 1024:.0f} MB，请压缩后重试。")


def _open(data: bytes) -> Image.Image:
    """Open and fully check the image; returns a freshly opened, loaded image.

    ``verify()`` checks the file's structure without decoding and leaves the image unusable, so
    the image is opened again and decoded, which catches truncated pixel data as well.
    """
    not_image = PhotoError("not_an_image", "不是有效的图片文件，请上传 JPEG、PNG 或 WebP 照片。")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' decoders look at the bytes: a text file that happens
            # to start like a GIF header is "not an image", not a decompression bomb.
            probe = Image.open(io.BytesIO(data), formats=ACCEPTED)
            if probe.format not in FORMATS:
                raise not_image
            _check_pixels(probe.size, limit)
            probe.verify()
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
            _check_pixels(image.size, limit)
            image.load()
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(limit) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_image from None
    return image


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise PhotoError("not_an_image", "图片尺寸无效。")
    if width * height > limit:
        raise _too_many_pixels(limit)


def _too_many_pixels(limit: int) -> PhotoError:
    return PhotoError(
        "too_many_pixels", f"图片像素过多：最多 {limit / 1_000_000:.0f} 百万像素，请缩小后重试。"
    )


# ---- EXIF -----------------------------------------------------------------------------------


def _rational(value: Any) -> float:
    """An EXIF rational (Pillow's IFDRational, a (num, den) pair or a number) as a float."""
    if isinstance(value, tuple) and len(value) == 2:
        num, den = value
        return float(num) / float(den) if den else math.nan
    return float(value)


def _dms(values: Any, ref: Any, negative: str) -> float | None:
    try:
        degrees, minutes, seconds = (_rational(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(result):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref or "").strip().upper().startswith(negative):
        result = -result
    return result


def gps_of(exif: Image.Exif) -> tuple[float, float] | None:
    """(lng, lat) in decimal degrees (WGS-84, as GPS receivers give it) from the GPS IFD."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    if not gps or GPS_LAT not in gps or GPS_LNG not in gps:
        return None
    lat = _dms(gps[GPS_LAT], gps.get(GPS_LAT_REF), "S")
    lng = _dms(gps[GPS_LNG], gps.get(GPS_LNG_REF), "W")
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    if lat == 0 and lng == 0:  # "no fix" written as zeros by some cameras
        return None
    return round(lng, 7), round(lat, 7)


def taken_at_of(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal (or DateTime) as an aware datetime. EXIF times are local camera time
    without a zone unless OffsetTimeOriginal says otherwise; a town's cameras are in Shanghai."""
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except (KeyError, ValueError, TypeError, OSError):
        sub = {}
    raw = sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(TAG_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "ignore")
    zone: Any = SHANGHAI
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        text = offset.strip("\x00 ")
        try:
            sign = -1 if text[0] == "-" else 1
            zone = dt_timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        except ValueError:
            zone = SHANGHAI
    return naive.replace(tzinfo=zone)


# ---- re-encoding ----------------------------------------------------------------------------


def _pixels_only(image: Image.Image, max_side: int) -> Image.Image:
    """A new image holding only the (oriented, possibly reduced) pixels: no EXIF, XMP, ICC,
    comments or text chunks, because it is built from raw pixel bytes, not copied."""
    oriented = ImageOps.exif_transpose(image)
    has_alpha = "A" in oriented.getbands() or "transparency" in oriented.info
    oriented = oriented.convert("RGBA" if has_alpha else "RGB")
    if max(oriented.size) > max_side:
        oriented.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return Image.frombytes(oriented.mode, oriented.size, oriented.tobytes())


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt in ("JPEG", "MPO"):
        if image.mode != "RGB":
            image = _on_white(image)
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    return out.getvalue()


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _thumbnail(clean: Image.Image) -> bytes:
    thumb = _on_white(clean)
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


# ---- the public functions -------------------------------------------------------------------


def check_photo(uploaded_file: IO[bytes] | bytes) -> tuple[bytes, Image.Image]:
    """The bytes and the decoded image of a valid photo, or ``PhotoError``. For forms that want
    to refuse a bad file before anything else is written."""
    data = _read(uploaded_file, max_bytes())
    return data, _open(data)


def exif_location_hint(uploaded_file: IO[bytes] | bytes) -> tuple[float, float] | None:
    """(lng, lat) from the photo's EXIF GPS, to offer as the case location on the report page;
    None when the file has none or is not a photo (the upload itself reports that)."""
    try:
        data = _read(uploaded_file, max_bytes())
        image = _open(data)
    except PhotoError:
        return None
    return gps_of(image.getexif())


def attach_photo(
    case: Case,
    uploaded_file: IO[bytes] | bytes,
    kind: str,
    *,
    actor,
    event: CaseEvent | None = None,
    at: datetime | None = None,
) -> Attachment:
    """Check, store and record a photo on ``case``.

    Stores the original privately, a metadata-free public copy and a JPEG thumbnail, with the
    sha256 of the original, its size in pixels, EXIF GPS (lng/lat) and time taken. The row and
    the audit event are written in one transaction; if that fails, the stored files are removed
    so nothing half-written remains.
    """
    if kind not in AttachmentKind.values:
        raise PhotoError("invalid_kind", f"未知的附件类型：{kind}。")
    data = _read(uploaded_file, max_bytes())
    image = _open(data)
    fmt = image.format or ""
    content_type, ext = FORMATS[fmt]
    exif = image.getexif()
    location = gps_of(exif)
    taken_at = taken_at_of(exif)
    clean = _pixels_only(image, PUBLIC_MAX_SIDE)
    public_bytes = _encode(clean, fmt)
    thumb_bytes = _thumbnail(clean)
    width, height = (image.height, image.width) if _rotated(exif) else image.size

    # Random names: the uploader's file name may carry personal data or path tricks.
    stem = uuid.uuid4().hex
    attachment = Attachment(
        case=case,
        event=event,
        kind=kind,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        exif_lng=location[0] if location else None,
        exif_lat=location[1] if location else None,
        taken_at=taken_at,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    public_ext = "jpg" if fmt in ("JPEG", "MPO") else ext
    stored = []
    try:
        attachment.file.save(f"{stem}.{ext}", ContentFile(data), save=False)
        stored.append(attachment.file)
        attachment.public_file.save(f"{stem}.{public_ext}", ContentFile(public_bytes), save=False)
        stored.append(attachment.public_file)
        attachment.thumbnail.save(f"{stem}.jpg", ContentFile(thumb_bytes), save=False)
        stored.append(attachment.thumbnail)
        with transaction.atomic():
            attachment.save()
            if at is not None:
                # uploaded_at is auto_now_add; imports and the demo give the real time.
                Attachment.objects.filter(pk=attachment.pk).update(uploaded_at=at)
                attachment.uploaded_at = at
            audit.record(
                actor,
                "cases.attach_photo",
                attachment,
                changes={
                    "case": case.number,
                    "kind": kind,
                    "sha256": attachment.sha256,
                    "size": attachment.size,
                    "has_gps": location is not None,
                },
            )
    except Exception:
        for field_file in stored:
            field_file.storage.delete(field_file.name)
        raise
    return attachment


def _rotated(exif: Image.Exif) -> bool:
    # Orientations 5–8 swap width and height; the stored size is the size as seen.
    return exif.get(0x0112) in (5, 6, 7, 8)
