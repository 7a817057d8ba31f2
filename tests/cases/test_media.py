"""Photos: content checks, size and pixel limits, EXIF GPS and time, metadata-free public copies.

The images are generated with Pillow at test time (no binary fixtures in the repository).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, TiffImagePlugin

from towngrid.cases import media
from towngrid.cases.media import PhotoError, attach_photo, exif_location_hint
from towngrid.cases.models import (
    Attachment,
    Case,
    Category,
    CategoryClass,
)
from towngrid.core.models import AuditEvent
from towngrid.grids.models import GridNode

# 北蔡镇 (approximately): 121°32'24.5"E, 31°11'33.3"N
LNG = 121 + 32 / 60 + 24.5 / 3600
LAT = 31 + 11 / 60 + 33.3 / 3600


def _rat(x: float) -> TiffImagePlugin.IFDRational:
    f = Fraction(x).limit_denominator(1000)
    return TiffImagePlugin.IFDRational(f.numerator, f.denominator)


def jpeg_with_exif(
    *,
    size=(64, 48),
    lat_ref="N",
    lng_ref="E",
    orientation: int | None = None,
    taken="2023:03:15 09:30:00",
) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation:
        exif[0x0112] = orientation
    exif[0x8769] = {0x9003: taken}  # Exif IFD: DateTimeOriginal
    exif[0x8825] = {  # GPS IFD
        1: lat_ref,
        2: (_rat(31), _rat(11), _rat(33.3)),
        3: lng_ref,
        4: (_rat(121), _rat(32), _rat(24.5)),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_bytes(size=(40, 30), mode="RGBA") -> bytes:
    out = io.BytesIO()
    colour = {"RGBA": (0, 128, 255, 128), "RGB": (0, 128, 255), "L": 128}[mode]
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def case(db) -> Case:
    town = GridNode.objects.create(code="310115901", name="测试镇", level=1, kind="town")
    micro = GridNode.objects.create(
        code="310115901101001", name="微网格", level=4, kind="micro", parent=town
    )
    major = CategoryClass.objects.create(kind="event", code="01", name="市容环境")
    category = Category.objects.create(major=major, code="02", full_code="E0102", name="暴露垃圾")
    return Case.objects.create(
        number="T0001",
        category=category,
        source="grid_worker",
        description="路边暴露垃圾",
        lng=LNG,
        lat=LAT,
        grid=micro,
        grid_code=micro.code,
        reported_at=timezone.now(),
    )


# --- EXIF -----------------------------------------------------------------------------------


def test_gps_location_is_extracted_as_decimal_wgs84(db):
    hint = exif_location_hint(upload(jpeg_with_exif()))
    assert hint is not None
    assert hint[0] == pytest.approx(LNG, abs=1e-6)
    assert hint[1] == pytest.approx(LAT, abs=1e-6)


def test_south_and_west_references_give_negative_degrees(db):
    lng, lat = exif_location_hint(jpeg_with_exif(lat_ref="S", lng_ref="W"))
    assert lng == pytest.approx(-LNG, abs=1e-6)
    assert lat == pytest.approx(-LAT, abs=1e-6)


def test_no_hint_without_gps_or_for_non_images(db):
    assert exif_location_hint(png_bytes()) is None
    assert exif_location_hint(b"hello, this is not a photo") is None


def test_location_hint_leaves_the_upload_readable(db):
    file = upload(jpeg_with_exif())
    exif_location_hint(file)
    assert file.read(2) == b"\xff\xd8"


# --- attach_photo ---------------------------------------------------------------------------


def test_jpeg_with_gps_is_stored_with_a_clean_public_copy(case, media_root):
    data = jpeg_with_exif()
    att = attach_photo(case, upload(data), "before", actor=None)
    att.refresh_from_db()
    assert att.content_type == "image/jpeg"
    assert att.size == len(data)
    assert len(att.sha256) == 64
    assert (att.width, att.height) == (64, 48)
    assert att.exif_lng == pytest.approx(LNG, abs=1e-6)
    assert att.exif_lat == pytest.approx(LAT, abs=1e-6)
    # 09:30 in Shanghai is 01:30 UTC.
    assert att.taken_at == datetime(2023, 3, 15, 1, 30, tzinfo=UTC)

    # The original is kept as uploaded (evidence), under a random name.
    with att.file.open("rb") as f:
        assert f.read() == data
    assert "photo" not in att.file.name

    # The public copy has no EXIF at all: no GPS, no camera, no time.
    with att.public_file.open("rb") as f:
        public_bytes = f.read()
    public = Image.open(io.BytesIO(public_bytes))
    assert public.format == "JPEG"
    assert dict(public.getexif()) == {}
    assert not public.getexif().get_ifd(0x8825)
    assert "exif" not in public.info
    assert b"TestCam" not in public_bytes and b"Exif" not in public_bytes

    with att.thumbnail.open("rb") as f:
        thumb = Image.open(io.BytesIO(f.read()))
    assert thumb.format == "JPEG"
    assert max(thumb.size) <= media.THUMBNAIL_SIDE
    assert dict(thumb.getexif()) == {}

    event = AuditEvent.objects.get(action="cases.attach_photo")
    assert event.object_id == str(att.pk)
    assert event.changes["has_gps"] is True


def test_orientation_is_applied_before_stripping(case, media_root):
    # Orientation 6: the camera was turned; the picture as seen is 48 wide and 64 high.
    att = attach_photo(case, jpeg_with_exif(orientation=6), "before", actor=None)
    assert (att.width, att.height) == (48, 64)
    with att.public_file.open("rb") as f:
        public = Image.open(io.BytesIO(f.read()))
    assert public.size == (48, 64)
    assert 0x0112 not in public.getexif()


def test_png_is_accepted_and_keeps_its_format(case, media_root):
    att = attach_photo(case, upload(png_bytes(), "x.png", "image/png"), "after", actor=None)
    assert att.content_type == "image/png"
    assert (att.width, att.height) == (40, 30)
    assert att.exif_lng is None and att.taken_at is None
    with att.public_file.open("rb") as f:
        assert Image.open(io.BytesIO(f.read())).format == "PNG"
    assert att.thumbnail.name.endswith(".jpg")


def test_webp_is_accepted(case, media_root):
    out = io.BytesIO()
    Image.new("RGB", (20, 20), "green").save(out, "WEBP")
    att = attach_photo(case, out.getvalue(), "other", actor=None)
    assert att.content_type == "image/webp"


def test_text_renamed_jpg_is_refused(case, media_root):
    with pytest.raises(PhotoError) as err:
        attach_photo(case, upload(b"GIF89a? no, just text " * 20), "before", actor=None)
    assert err.value.code == "not_an_image"
    assert "图片" in err.value.message
    assert not Attachment.objects.exists()


def test_other_image_formats_are_refused(case, media_root):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(PhotoError) as err:
        attach_photo(case, upload(out.getvalue()), "before", actor=None)
    assert err.value.code == "not_an_image"


def test_truncated_jpeg_is_refused(case, media_root):
    data = jpeg_with_exif(size=(400, 300))
    with pytest.raises(PhotoError) as err:
        attach_photo(case, data[: len(data) // 2], "before", actor=None)
    assert err.value.code == "not_an_image"


def test_oversized_file_is_refused(case, media_root, monkeypatch):
    monkeypatch.setattr(media, "max_bytes", lambda: 1024)
    data = png_bytes(size=(300, 300), mode="RGB") + b"\0" * 2048
    with pytest.raises(PhotoError) as err:
        attach_photo(case, upload(data, "big.png"), "before", actor=None)
    assert err.value.code == "too_large"
    assert "MB" in err.value.message
    assert not Attachment.objects.exists()


def test_size_limit_comes_from_configuration(db):
    from towngrid.core import config

    config.set_value("cases.photo_max_bytes", 2048)
    try:
        assert media.max_bytes() == 2048
        with pytest.raises(PhotoError) as err:
            media.check_photo(b"\xff" * 4096)
        assert err.value.code == "too_large"
    finally:
        config.reset("cases.photo_max_bytes")


def test_decompression_bomb_is_refused(case, media_root, monkeypatch):
    monkeypatch.setattr(media, "max_pixels", lambda: 1_000_000)
    # A 2000×2000 single-colour PNG is a few kilobytes but 4 million pixels.
    data = png_bytes(size=(2000, 2000), mode="L")
    assert len(data) < 100_000
    with pytest.raises(PhotoError) as err:
        attach_photo(case, data, "before", actor=None)
    assert err.value.code == "too_many_pixels"


def test_unknown_kind_is_refused(case, media_root):
    with pytest.raises(PhotoError):
        attach_photo(case, png_bytes(), "selfie", actor=None)


def test_files_are_removed_when_the_row_cannot_be_written(case, media_root, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(media.audit, "record", boom)
    with pytest.raises(RuntimeError):
        attach_photo(case, jpeg_with_exif(), "before", actor=None)
    stored = [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []
    assert stored == []
    assert not Attachment.objects.exists()
