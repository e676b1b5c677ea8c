"""Sending the public form ``/report``: the checks a form needs before the request is filed
like any other (``dashboard.api.filing``): the trap field robots fill, the rate limits per
address, the photo (decoded, checked and re-encoded without its metadata). A refusal says
what went wrong as a ``kind`` the page words in the resident's language, with the detail
in English for the log. No Dash here."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from dashboard.api.filing import Filed, file_request
from dashboard.api.open311_intake import StorePosted, parse_submission
from dashboard.api.post_limits import WriteLimits
from dashboard.photos import PhotoRefused, clean_photo, decode_data_url
from dashboard.queries import district_outlines
from dashboard.queries.resident_report import district_at
from dashboard.settings import Settings
from dashboard.store import get_engine

log = logging.getLogger(__name__)
ROBOT, TOO_MANY, NO_SERVICE, NO_PLACE, OUTSIDE, PHOTO, INVALID = (
    "robot", "too_many", "no_service", "no_place", "outside", "photo", "invalid")


class ReportRefused(ValueError):
    """Why a report was not filed: ``kind`` (one of the names above) and the detail."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class ReportFields:
    """What the form holds when sent."""

    service_code: str | None
    lat: float | None = None
    lon: float | None = None
    address: str = ""
    description: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    answers: dict[str, list[str]] = field(default_factory=dict)
    photo: str | None = None  # the upload as a data: URL
    trap: str = ""  # the field people never see and robots fill


def report_limits(config: dict[str, Any], settings: Settings) -> WriteLimits:
    """The form's write limits, made once per app (kept in its ``config``)."""
    return WriteLimits.kept_in(config, settings, "report-form")


def _form(fields: ReportFields) -> MultiDict[str, str]:
    form: MultiDict[str, str] = MultiDict({
        "service_code": fields.service_code or "", "address_string": fields.address,
        "description": fields.description, "first_name": fields.name,
        "email": fields.email, "phone": fields.phone,
        "lat": "" if fields.lat is None else repr(fields.lat),
        "long": "" if fields.lon is None else repr(fields.lon)})
    for code, values in fields.answers.items():
        for value in values:
            form.add(f"attribute[{code}][]", value)
    return form


def _photo_rows(photo: str | None, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    if not photo:
        return {}
    try:
        clean = clean_photo(decode_data_url(photo))
    except PhotoRefused as refused:
        raise ReportRefused(PHOTO, str(refused)) from None
    return {"request_photos": [{"media_type": clean.media_type, "content": clean.content,
                                "width": clean.width, "height": clean.height,
                                "bytes": len(clean.content),
                                "received_at": settings.current_time()}]}


def outside_the_city(settings: Settings, lat: float, lon: float) -> bool:
    """Whether the spot lies outside every district (a city without districts yet has no
    outside: every spot is taken)."""
    return bool(district_outlines(settings)["features"]) and \
        district_at(settings, lat, lon) is None


def send_report(settings: Settings, store: StorePosted | None, limits: WriteLimits,
                client: str | None, fields: ReportFields, channel: str) -> Filed:
    """File the form's report from ``client`` (its address) by ``channel`` (web, kiosk);
    ReportRefused when it is not filed (nothing is stored then)."""
    if fields.trap.strip():
        log.info("report form: trap field filled from %s; nothing stored", client)
        raise ReportRefused(ROBOT, "the field left for robots was filled")
    if store is None:
        raise ReportRefused(INVALID, "this server does not take reports")
    passed = limits.by_address(client)
    if passed:
        raise ReportRefused(TOO_MANY, f"too many reports: {passed}")
    if not fields.service_code:
        raise ReportRefused(NO_SERVICE, "no service chosen")
    if (fields.lat is None or fields.lon is None) and not fields.address.strip():
        raise ReportRefused(NO_PLACE, "no place: neither a spot on the map nor words")
    if fields.lat is not None and fields.lon is not None and outside_the_city(
            settings, fields.lat, fields.lon):
        raise ReportRefused(OUTSIDE, "the spot is outside every district of the city")
    extra = _photo_rows(fields.photo, settings)
    try:
        submission = parse_submission(_form(fields))
        return file_request(settings, get_engine(settings.resolved_database_url), store,
                            submission, channel, extra)
    except ValueError as error:
        raise ReportRefused(INVALID, str(error)) from None
