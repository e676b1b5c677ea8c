"""Residents' photos on service requests: real images made with Pillow are checked, stripped
of every metadata and re-encoded (``dashboard.photos``); stored with their request in one
unit of work (nothing when the request is refused); served to the public only once the
request is approved, and to the staff who may see the request, over the real app."""
from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms
from sqlalchemy import func, insert, select

from dashboard import photos
from dashboard.api.filing import file_request
from dashboard.api.open311_intake import Submission
from dashboard.api.open311_reads import find_requests, media_url
from dashboard.auth import OFFICIAL
from dashboard.auth.users import Principal
from dashboard.model import District, RequestPhoto, Service, ServiceRequest
from dashboard.photos import PhotoRefused, clean_photo, decode_data_url
from dashboard.queries.moderation import moderate_request
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import sign_in

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _camera_jpeg() -> bytes:
    """A 60x20 phone photo (red left, blue right) taken on its side (orientation 6), with
    GPS, make and model in its EXIF, an ICC profile, XMP and a comment."""
    image = Image.new("RGB", (60, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 30, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Model] = "Spy 3000"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (43.0, 27.0, 44.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (3.0, 48.0, 35.2)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _encoded(image, "JPEG", exif=exif, icc_profile=icc, comment=b"home of Ana",
                    xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>SecretPlace</x:xmpmeta>")


def _png_declaring(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of ``width`` x ``height`` black pixels: a few kB that
    decode to width x height bytes or more (a decompression bomb when large)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    rows_at_once = 1000
    idat = b"".join(packer.compress(row * min(rows_at_once, height - start))
                    for start in range(0, height, rows_at_once)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def test_a_camera_photo_loses_every_metadata_and_stays_upright() -> None:
    raw = _camera_jpeg()
    with Image.open(BytesIO(raw)) as original:
        assert original.getexif() and {"icc_profile", "comment", "xmp"} <= set(original.info)
    photo = clean_photo(raw)
    assert photo.media_type == "image/jpeg"
    assert (photo.width, photo.height) == (20, 60)  # turned upright: sides swapped
    with Image.open(BytesIO(photo.content)) as out:
        assert out.format == "JPEG" and out.size == (20, 60) and out.mode == "RGB"
        assert not out.getexif()
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(out.info)
        top, bottom = out.getpixel((10, 5)), out.getpixel((10, 55))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]  # rotated clockwise
    for secret in (b"SecretCam", b"Spy 3000", b"home of Ana", b"SecretPlace", b"Exif"):
        assert secret not in photo.content


def test_transparency_is_flattened_on_white_as_a_jpeg() -> None:
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 10, 30))
    photo = clean_photo(_encoded(image, "PNG"))
    with Image.open(BytesIO(photo.content)) as out:
        assert out.format == "JPEG" and out.mode == "RGB" and out.size == (40, 30)
        assert all(channel > 245 for channel in out.getpixel((30, 15)))  # was transparent
        assert out.getpixel((3, 15))[1] > 100  # the opaque green stays


def test_a_webp_is_accepted() -> None:
    photo = clean_photo(_encoded(Image.new("RGB", (30, 20), "orange"), "WEBP"))
    assert (photo.width, photo.height) == (30, 20)


def test_a_large_photo_is_shrunk_to_its_longest_side() -> None:
    photo = clean_photo(_encoded(Image.new("RGB", (5000, 3000), "gray"), "JPEG"))
    assert (photo.width, photo.height) == (1600, 960)
    with Image.open(BytesIO(photo.content)) as out:
        assert out.size == (1600, 960)


def _noisy_jpeg() -> bytes:
    return _encoded(Image.effect_noise((200, 200), 60).convert("RGB"), "JPEG")


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: _encoded(Image.new("RGB", (20, 20), "red"), "GIF"), photos.NOT_A_PHOTO),
    (lambda: b"Just a text file called photo.jpg\n" * 40, photos.NOT_A_PHOTO),
    (lambda: _noisy_jpeg()[:len(_noisy_jpeg()) // 2], photos.UNREADABLE),
    (lambda: b"", photos.EMPTY),
    (lambda: b"\xff\xd8\xff" + b"\0" * (9 * 2**20), photos.TOO_LARGE),
    (lambda: _png_declaring(20_000, 20_000), photos.TOO_MANY_PIXELS),  # Pillow's own limit
    (lambda: _png_declaring(8_000, 6_000), photos.TOO_MANY_PIXELS),  # ours: 48 Mpx > 40
], ids=["gif", "text", "truncated-jpeg", "empty", "9-mb", "bomb", "over-our-cap"])
def test_what_is_not_a_safe_photo_is_refused_with_its_reason(make: Any, reason: str) -> None:
    data = make()
    with pytest.raises(PhotoRefused) as refused:
        clean_photo(data)
    assert str(refused.value) == reason and "\n" not in reason


def test_a_data_url_is_decoded_and_its_declared_type_ignored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _camera_jpeg()
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert decode_data_url(url) == raw
    assert clean_photo(decode_data_url(url)).media_type == "image/jpeg"
    for bad in ("", "hello", "data:image/jpeg,notbase64", "data:image/jpeg;base64,@@@@",
                "data:image/jpeg;base64,QUJD=QUJD"):
        with pytest.raises(PhotoRefused, match=photos.UNREADABLE):
            decode_data_url(bad)
    with pytest.raises(PhotoRefused, match=photos.EMPTY):
        decode_data_url("data:image/jpeg;base64,")

    def never(*_: Any, **__: Any) -> bytes:
        raise AssertionError("a too large data URL was decoded")

    monkeypatch.setattr(photos.base64, "b64decode", never)
    too_long = "data:image/jpeg;base64," + "A" * (photos.MAX_PHOTO_BYTES * 4 // 3 + 8)
    with pytest.raises(PhotoRefused, match=photos.TOO_LARGE):
        decode_data_url(too_long)


# ---- stored with the request ---------------------------------------------------------------

def _store(tmp: Path) -> Settings:
    """A store of its own: two districts, a service of each of two departments, the demo
    users (waste.head: Residuos y Limpieza; mobility.head: Obras Públicas)."""
    from dashboard.demo.users import add_demo_users

    settings = Settings(var_dir=tmp, database_url="", redis_url=None, now=NOW)
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {}},
                                        {"id": "d2", "name": "Norte", "geometry": {}}])
        conn.execute(insert(Service), [
            {"service_code": "pothole", "service_name": "Pothole", "department": "Obras Públicas",
             "attributes": []},
            {"service_code": "litter", "service_name": "Litter",
             "department": "Residuos y Limpieza", "attributes": []},
            {"service_code": "bus-stop", "service_name": "Bus stop", "department": "Movilidad",
             "attributes": []}])
        add_demo_users(conn, ["d1", "d2"])
    return settings


def _photo_row(request_id: str, photo: photos.CleanPhoto) -> dict[str, Any]:
    return {"request_id": request_id, "media_type": photo.media_type,
            "content": photo.content, "width": photo.width, "height": photo.height,
            "bytes": len(photo.content), "received_at": NOW}


def _request_row(request_id: str, requested_at: datetime) -> dict[str, Any]:
    return {"id": request_id, "service_code": "pothole", "service_name": "Pothole",
            "department": "Obras Públicas", "status": "open", "channel": "web",
            "requested_at": requested_at, "moderation": "pending"}


def _count(settings: Settings, table: Any) -> int:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_photo_is_stored_with_its_request_and_not_with_a_refused_one(tmp_path: Path) -> None:
    from connectors.open311_intake import store_posted

    settings = _store(tmp_path)
    photo = clean_photo(_camera_jpeg())
    refused = store_posted(settings, {
        "service_requests": [_request_row("SR-late", NOW + timedelta(days=400))],
        "request_photos": [_photo_row("SR-late", photo)]})
    assert refused and "\n" not in refused  # its reason, in one line
    assert _count(settings, ServiceRequest) == 0 and _count(settings, RequestPhoto) == 0
    stored = store_posted(settings, {
        "service_requests": [_request_row("SR-1", NOW - timedelta(hours=1))],
        "request_photos": [_photo_row("SR-1", photo)]})
    assert stored is None
    with get_engine(settings.resolved_database_url).connect() as conn:
        row = conn.execute(select(RequestPhoto)).one()
    assert (row.request_id, row.content, row.width, row.height, row.bytes) == (
        "SR-1", photo.content, 20, 60, len(photo.content))
    assert row.received_at == NOW and _count(settings, ServiceRequest) == 1


# ---- served over the app -------------------------------------------------------------------

MAYOR = Principal("mayor", OFFICIAL)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on a store with three requests filed through the public path, each with a
    photo: a pothole (Obras Públicas) left pending, a pothole approved, a litter report
    (Residuos y Limpieza) rejected; plus an approved one without a photo."""
    from app import create_app
    from connectors.open311_intake import store_posted
    settings = _store(tmp_path_factory.mktemp("photos"))
    engine = get_engine(settings.resolved_database_url)
    photo = clean_photo(_camera_jpeg())
    extra = {"request_photos": [_photo_row("", photo)]}
    ids = {}
    for name, code, with_photo in (("pending", "pothole", True), ("approved", "pothole", True),
                                   ("rejected", "litter", True), ("bare", "pothole", False)):
        submission = Submission(code, 43.46 + len(ids) / 100, -3.80, f"Calle {name}",
                                f"The {name} one")
        filed = file_request(settings, engine, store_posted, submission, "web",
                             extra if with_photo else None)
        ids[name] = filed.request_id
    for name, decision in (("approved", "approve"), ("rejected", "reject"),
                           ("bare", "approve")):
        moderate_request(engine, MAYOR, ids[name], decision, NOW)
    app = create_app(settings)
    yield {"settings": settings, "engine": engine, "server": app.server, "ids": ids,
           "photo": photo}


def _client(city: dict[str, Any], user: str | None = None) -> Any:
    client = city["server"].test_client()
    if user:
        assert sign_in(client, user).status_code == 302
    return client


def _public(city: dict[str, Any], name: str) -> Any:
    return _client(city).get(f"/open311/v2/media/{city['ids'][name]}.jpg")


def _assert_photo(answer: Any, city: dict[str, Any], cache: str) -> None:
    assert answer.status_code == 200
    assert answer.data == city["photo"].content
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Disposition"] == "inline"
    assert cache in answer.headers["Cache-Control"]


def test_the_public_sees_a_photo_only_once_its_request_is_approved(city: dict[str, Any]) -> None:
    _assert_photo(_public(city, "approved"), city, "public, no-cache")
    for name in ("pending", "rejected", "bare"):
        assert _public(city, name).status_code == 404, name
    assert _client(city).get("/open311/v2/media/no-such-request.jpg").status_code == 404


def test_published_requests_point_at_their_photo_and_only_approved_ones(
        city: dict[str, Any]) -> None:
    ids = city["ids"]
    listed = _client(city).get("/open311/v2/requests.json")
    assert listed.status_code == 200
    urls = {item["service_request_id"]: item["media_url"] for item in listed.get_json()}
    assert set(urls) == set(ids.values())
    assert urls[ids["approved"]].endswith(f"/open311/v2/media/{ids['approved']}.jpg")
    assert urls[ids["pending"]] == urls[ids["rejected"]] == urls[ids["bare"]] == ""
    one = _client(city).get(f"/open311/v2/requests/{ids['approved']}.xml")
    assert f"/open311/v2/media/{ids['approved']}.jpg</media_url>".encode() in one.data
    followed = _client(city).get(urls[ids["approved"]])
    _assert_photo(followed, city, "public")
    with city["engine"].connect() as conn:
        found = find_requests(conn, ids=list(ids.values()), base_url="https://city.example/")
    assert {r["media_url"] for r in found} == {
        "", f"https://city.example/open311/v2/media/{ids['approved']}.jpg"}
    assert media_url("", "A B/C") == "/open311/v2/media/A%20B%2FC.jpg"


def test_no_public_answer_carries_an_unapproved_photo(city: dict[str, Any]) -> None:
    ids, client = city["ids"], _client(city)
    answers = [client.get(path) for path in (
        "/open311/v2/requests.json", "/open311/v2/requests.xml",
        *(f"/open311/v2/requests/{ids[n]}.json" for n in ("pending", "rejected")),
        *(f"/open311/v2/media/{ids[n]}.jpg" for n in ("pending", "rejected")),
        *(f"/staff/request-photo/{ids[n]}.jpg" for n in ("pending", "rejected")))]
    for answer in answers:
        assert city["photo"].content not in answer.data
        for name in ("pending", "rejected"):
            assert f"media/{ids[name]}".encode() not in answer.data


def test_staff_see_the_photos_of_the_requests_they_may_see(city: dict[str, Any]) -> None:
    ids = city["ids"]

    def staff(user: str | None, name: str) -> Any:
        return _client(city, user).get(f"/staff/request-photo/{ids[name]}.jpg")

    anonymous = staff(None, "pending")  # the guard sends them to sign in, as for a page
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login?")
    for user in ("mayor", "admin"):
        for name in ("pending", "approved", "rejected"):
            _assert_photo(staff(user, name), city, "no-store")
    _assert_photo(staff("mobility.head", "pending"), city, "no-store")  # Obras Públicas
    assert staff("mobility.head", "rejected").status_code == 404  # a litter report
    assert staff("waste.head", "pending").status_code == 404  # not their department
    _assert_photo(staff("waste.head", "rejected"), city, "no-store")
    assert staff("mayor", "bare").status_code == 404  # no photo
