"""Report a problem (``/report``) and follow it (``/track/<token>``), over the real app on a
store of its own: the form's callbacks answered through Dash's endpoint as a browser sends
them (photo included), what is stored (channel, moderation, resident, photo), every
refusal (nothing stored), the trap field, the rate limit, "already reported nearby", the
spot's district, the tracking page before and after staff approve, and the kiosk's QR."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, insert, select, update

from dashboard.auth.guard import MAX_REQUEST_BYTES
from dashboard.model import Citizen, District, RequestPhoto, Service, ServiceRequest
from dashboard.queries.resident_report import already_reported, district_at
from dashboard.queries.tracking import tracked_request
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import router_body

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SQUARE = {"type": "Polygon", "coordinates": [[[-3.82, 43.45], [-3.78, 43.45], [-3.78, 43.48],
                                              [-3.82, 43.48], [-3.82, 43.45]]]}
INSIDE = {"lat": 43.4620, "lon": -3.8000}
SEND_OUTPUT = "..report-send-result.children...report-send-box.hidden...report-send-error.children.."
BLOCKING = {"code": "blocking", "datatype": "singlevaluelist", "required": True,
            "variable": True, "description": "¿Corta el paso?", "order": 1,
            "values": [{"key": "yes", "name": "Sí"}, {"key": "no", "name": "No"}]}


def _settings(tmp: Path, **extra: Any) -> Settings:
    settings = Settings(var_dir=tmp, database_url="", redis_url=None, now=NOW, **extra)
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": SQUARE}])
        conn.execute(insert(Service), [
            {"service_code": "pothole", "service_name": "Bache en la calzada",
             "department": "Obras Públicas", "group": "Vía pública", "attributes": [BLOCKING],
             "online": True},
            {"service_code": "graffiti", "service_name": "Pintadas",
             "department": "Residuos y Limpieza", "group": "Limpieza", "attributes": [],
             "online": True},
            {"service_code": "closed_desk", "service_name": "Ventanilla", "online": False,
             "department": "Atención", "group": "Atención", "attributes": []}])
    return settings


@pytest.fixture
def city(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on a store of its own (a square district, a service with a question, one
    without, one not offered online), with its writes limited to 3 a minute."""
    from app import create_app

    settings = _settings(tmp_path, public_write_rate_per_address="3/minute")
    app = create_app(settings)
    yield {"settings": settings, "server": app.server,
           "engine": get_engine(settings.resolved_database_url)}


def camera_photo(side: int = 40) -> str:
    """A JPEG with GPS and a camera's make in its EXIF, as dcc.Upload sends it."""
    image = Image.new("RGB", (side * 2, side), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (43.0, 27.0, 44.5)
    out = BytesIO()
    image.save(out, "JPEG", exif=exif)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def send_body(**fields: Any) -> dict[str, Any]:
    """The request Dash sends when "Send report" is clicked with ``fields`` filled."""
    values = {"service": None, "spot": None, "address": None, "description": None,
              "photo": None, "name": None, "email": None, "phone": None, "website": None,
              "channel": "web", "lang": "en", **fields}
    answers = fields.get("answers", {})

    def state(name: str, prop: str, key: str) -> dict[str, Any]:
        return {"id": f"report-{name}", "property": prop, "value": values[key]}

    return {"output": SEND_OUTPUT,
            "outputs": [{"id": "report-send-result", "property": "children"},
                        {"id": "report-send-box", "property": "hidden"},
                        {"id": "report-send-error", "property": "children"}],
            "inputs": [{"id": "report-send", "property": "n_clicks", "value": 1}],
            "state": [state("service", "value", "service"), state("spot", "data", "spot"),
                      state("address", "value", "address"),
                      [{"id": {"type": "report-question", "code": code}, "property": "value",
                        "value": value} for code, value in answers.items()],
                      state("description", "value", "description"),
                      state("photo", "contents", "photo"), state("name", "value", "name"),
                      state("email", "value", "email"), state("phone", "value", "phone"),
                      state("website", "value", "website"),
                      state("channel", "data", "channel"), state("lang", "data", "lang")],
            "changedPropIds": ["report-send.n_clicks"]}


def send(city: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Click "Send report" as an anonymous browser; Dash's answer by output id."""
    client = city["server"].test_client()
    response = client.post("/_dash-update-component", json=send_body(**fields))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def _count(city: dict[str, Any], table: Any) -> int:
    with city["engine"].connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _text(component: Any) -> str:
    return json.dumps(component, ensure_ascii=False)


def test_a_report_with_a_photo_and_a_contact_is_filed_like_any_request(city: dict) -> None:
    answer = send(city, service="pothole", spot=INSIDE, description="Un bache enorme",
                  photo=camera_photo(), email="Ana@Example.org", name="Ana",
                  answers={"blocking": "yes"})
    sent = _text(answer["report-send-result"]["children"])
    assert "Thank you: your report is in" in sent and answer["report-send-box"]["hidden"]
    with city["engine"].connect() as conn:
        request = conn.execute(select(ServiceRequest)).one()
        photo = conn.execute(select(RequestPhoto)).one()
        citizen = conn.execute(select(Citizen)).one()
    assert (request.channel, request.moderation, request.district_id) == ("web", "pending", "d1")
    assert request.attributes == {"blocking": ["yes"]}
    assert request.citizen_id == citizen.id and citizen.email == "Ana@Example.org"
    assert "Ana" not in request.description and f"/track/{request.token}" in sent
    assert request.id in sent
    with Image.open(BytesIO(photo.content)) as stored:
        assert stored.format == "JPEG" and not stored.getexif() and photo.request_id == request.id


def test_the_kiosk_files_as_the_kiosk_and_an_address_alone_is_a_place(city: dict) -> None:
    send(city, service="graffiti", address="Plaza del Ayuntamiento", channel="kiosk", lang="es")
    with city["engine"].connect() as conn:
        request = conn.execute(select(ServiceRequest)).one()
    assert (request.channel, request.address, request.lat) == ("kiosk",
                                                               "Plaza del Ayuntamiento", None)


@pytest.mark.parametrize(("fields", "words"), [
    ({}, "Choose what the problem is"),
    ({"service": "pothole", "answers": {"blocking": "yes"}}, "Say where it is"),
    ({"service": "pothole", "spot": INSIDE, "answers": {"blocking": "yes"},
      "photo": "data:image/jpeg;base64," + base64.b64encode(b"not a photo").decode()},
     "The photo could not be used"),
    ({"service": "pothole", "spot": INSIDE}, "attribute[blocking] is required"),
    ({"service": "pothole", "spot": INSIDE, "answers": {"blocking": "maybe"}},
     "is not one of no, yes"),
    ({"service": "closed_desk", "spot": INSIDE}, "is not a service of this city"),
    ({"service": "graffiti", "spot": INSIDE, "email": "not-an-address"}, "is not an e-mail"),
    ({"service": "graffiti", "spot": {"lat": 10.0, "lon": 10.0}}, "outside the city's districts"),
])
def test_a_refused_report_says_what_to_fix_and_stores_nothing(
        city: dict, fields: dict[str, Any], words: str) -> None:
    answer = send(city, **fields)
    assert words in _text(answer["report-send-error"]["children"])
    assert answer["report-send-box"]["hidden"] is False
    assert _count(city, ServiceRequest) == 0 and _count(city, RequestPhoto) == 0


def test_spanish_refusals_are_in_spanish(city: dict) -> None:
    answer = send(city, lang="es")
    assert answer["report-send-error"]["children"] == "Elija qué problema es (parte 1)."


def test_the_trap_field_stores_nothing(city: dict) -> None:
    answer = send(city, service="graffiti", spot=INSIDE, website="http://spam.example")
    assert "could not be sent" in _text(answer["report-send-error"]["children"])
    assert _count(city, ServiceRequest) == 0


def test_the_fourth_report_in_a_minute_from_one_address_is_refused(city: dict) -> None:
    for n in range(3):
        send(city, service="graffiti", address=f"Calle {n}")
    answer = send(city, service="graffiti", address="Calle 4")
    assert "Too many reports" in _text(answer["report-send-error"]["children"])
    assert _count(city, ServiceRequest) == 3


def test_only_the_send_callback_may_carry_a_photo_sized_body(city: dict) -> None:
    client = city["server"].test_client()
    big_photo = "data:image/jpeg;base64," + "A" * (2 * MAX_REQUEST_BYTES)
    body = send_body(service="graffiti", spot=INSIDE, photo=big_photo)
    assert client.post("/_dash-update-component", json=body).status_code == 200
    nearby = {"output": "report-nearby.children",
              "outputs": {"id": "report-nearby", "property": "children"},
              "inputs": [{"id": "report-service", "property": "value", "value": big_photo},
                         {"id": "report-spot", "property": "data", "value": None}],
              "state": [{"id": "report-lang", "property": "data", "value": "en"}],
              "changedPropIds": ["report-service.value"]}
    assert client.post("/_dash-update-component", json=nearby).status_code == 413
    from layouts.report import SEND_BYTES

    huge = send_body(service="graffiti", spot=INSIDE, photo="A" * SEND_BYTES)
    assert client.post("/_dash-update-component", json=huge).status_code == 413


def _file(city: dict, service: str, lat: float, lon: float) -> str:
    send(city, service=service, spot={"lat": lat, "lon": lon},
         answers={"blocking": "no"} if service == "pothole" else {})
    with city["engine"].connect() as conn:
        return str(conn.execute(select(ServiceRequest.id).order_by(
            ServiceRequest.requested_at.desc(), ServiceRequest.id)).scalars().all()[-1])


def test_already_reported_nearby_is_the_nearest_open_one_of_the_same_service(
        city: dict) -> None:
    settings = city["settings"]
    first = _file(city, "pothole", 43.4620, -3.8000)
    # 0.0003 degrees of latitude is about 33 m; 0.0008 about 89 m
    assert already_reported(settings, "pothole", 43.4623, -3.8000)["id"] == first
    assert already_reported(settings, "pothole", 43.4628, -3.8000) is None
    assert already_reported(settings, "graffiti", 43.4620, -3.8000) is None
    with city["engine"].begin() as conn:
        conn.execute(update(ServiceRequest).values(status="closed", closed_at=NOW))
    assert already_reported(settings, "pothole", 43.4620, -3.8000) is None


def test_the_nearby_callback_tells_before_sending_and_the_second_report_is_marked(
        city: dict) -> None:
    first = _file(city, "pothole", 43.4620, -3.8000)
    client = city["server"].test_client()
    answer = client.post("/_dash-update-component", json={
        "output": "report-nearby.children",
        "outputs": {"id": "report-nearby", "property": "children"},
        "inputs": [{"id": "report-service", "property": "value", "value": "pothole"},
                   {"id": "report-spot", "property": "data",
                    "value": {"lat": 43.4622, "lon": -3.8001}}],
        "state": [{"id": "report-lang", "property": "data", "value": "es"}],
        "changedPropIds": ["report-spot.data"]}).get_json()["response"]
    notice = _text(answer["report-nearby"]["children"])
    assert "Ya avisado cerca" in notice and f"/track/{first}?lang=es" in notice
    sent = send(city, service="pothole", spot={"lat": 43.4622, "lon": -3.8001},
                answers={"blocking": "no"})
    assert f"the same as report {first}" in _text(sent["report-send-result"]["children"])
    with city["engine"].connect() as conn:
        marked = conn.execute(select(ServiceRequest.duplicate_of, ServiceRequest.duplicate_state)
                              .where(ServiceRequest.id != first)).one()
    assert tuple(marked) == (first, "suspected")


def test_a_spot_is_placed_in_its_district_or_refused_outside(city: dict) -> None:
    assert district_at(city["settings"], 43.46, -3.80) == {"id": "d1", "name": "Centro"}
    assert district_at(city["settings"], 43.50, -3.80) is None


def _router(city: dict, path: str, search: str = "") -> str:
    body = router_body(path)
    body["inputs"][1]["value"] = search
    response = city["server"].test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200
    return _text(response.get_json())


def test_the_form_lists_online_services_in_the_residents_language(city: dict) -> None:
    text = _router(city, "/report", "?lang=es")
    assert "Avisar de un problema" in text and "Bache en la calzada" in text
    assert "Ventanilla" not in text  # not offered online
    english = _router(city, "/report", "?lang=en&from=kiosk&district=d1")
    assert "Report a problem" in english and '"data": "kiosk"' in english


def test_following_a_report_shows_its_text_only_once_approved(city: dict) -> None:
    from dashboard.auth import OFFICIAL
    from dashboard.auth.users import Principal
    from dashboard.queries.moderation import moderate_request

    send(city, service="graffiti", spot=INSIDE, description="Pintada en la fachada",
         photo=camera_photo(), email="ana@example.org")
    with city["engine"].connect() as conn:
        request_id, token = conn.execute(select(ServiceRequest.id, ServiceRequest.token)).one()
    found = tracked_request(city["settings"], token)
    assert found["service_request_id"] == request_id and found["district"] == "Centro"
    assert found["description"] == "" and found["media_url"] == "" and found["text_pending"]
    assert tracked_request(city["settings"], request_id)["service_request_id"] == request_id
    assert tracked_request(city["settings"], "no-such-token") is None
    pending = _router(city, f"/track/{token}", "?lang=es")
    assert "Abierto" in pending and "Pintada en la fachada" not in pending
    assert "ana@example.org" not in pending
    moderate_request(city["engine"], Principal("mayor", OFFICIAL), request_id, "approve", NOW)
    approved = _router(city, f"/track/{token}", "?lang=en")
    assert "Pintada en la fachada" in approved and f"/open311/v2/media/{request_id}.jpg" in approved
    assert "Report not found" in _router(city, "/track/nothing-here", "?lang=en")
    assert "Aviso no encontrado" in _router(city, "/track/nothing-here")  # the city speaks es


def test_the_residents_pages_speak_the_residents_language(city: dict) -> None:
    client = city["server"].test_client()
    assert '<html lang="es">' in client.get("/report?lang=es").get_data(as_text=True)
    assert '<html lang="en">' in client.get(
        "/report", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="es">' in client.get("/track/x?lang=es").get_data(as_text=True)


def test_the_kiosk_slide_opens_the_form_on_its_district_as_the_kiosk(city: dict) -> None:
    import segno

    from layouts.kiosk_report import qr_image, report_link

    with city["server"].test_request_context("/kiosk", base_url="https://ciudad.example"):
        link = report_link("es", "d1")
    assert link == "https://ciudad.example/report?from=kiosk&lang=es&district=d1"
    expected = segno.make(link, error="m").svg_data_uri(scale=8, border=2, dark="#0c2740",
                                                        light="#ffffff")
    assert qr_image(link) == expected and expected.startswith("data:image/svg+xml")
    body = city["server"].test_client().post("/_dash-update-component", json={
        "output": "kiosk-stage.children",
        "outputs": {"id": "kiosk-stage", "property": "children"},
        "inputs": [{"id": "kiosk-version", "property": "data", "value": "next"}],
        "state": [{"id": "kiosk-lang", "property": "data", "value": "en"},
                  {"id": "kiosk-district", "property": "data", "value": "d1"}],
        "changedPropIds": ["kiosk-version.data"]}).get_json()
    slides = _text(body["response"])
    assert "Report a problem" in slides and "report?from=kiosk&lang=en&district=d1" in slides


def test_staff_see_the_photo_on_the_requests_page(city: dict) -> None:
    from dashboard.queries.request_detail import request_detail
    from layouts.request import photo_part

    send(city, service="graffiti", spot=INSIDE, photo=camera_photo(side=50))
    send(city, service="graffiti", address="Calle sin foto")
    with city["engine"].connect() as conn:
        rows = dict(conn.execute(select(ServiceRequest.address, ServiceRequest.id)).all())
    with_photo = request_detail(city["settings"], rows[""])
    assert with_photo["photo"] == {"width": 100, "height": 50}
    figure = photo_part(with_photo).to_plotly_json()["props"]["children"][0]
    assert figure.src == f"/staff/request-photo/{rows['']}.jpg"
    assert request_detail(city["settings"], rows["Calle sin foto"])["photo"] is None
    assert photo_part(request_detail(city["settings"], rows["Calle sin foto"])) is None
