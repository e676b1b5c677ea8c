"""The unified model: one SQLAlchemy 2 table per entity of the design.

Conventions: every datetime is stored as UTC (naive in the database, aware in Python);
the two hot tables (observations, rollups) store time as integer epoch seconds, which is
compact and fast on SQLite and PostgreSQL alike. Ids of things that come from outside
are stable strings (NGSI-LD URNs, Open311 ids), so re-ingesting is idempotent.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DOMAINS: tuple[str, ...] = (
    "environment",
    "mobility",
    "parking",
    "waste",
    "water",
    "energy",
    "lighting",
    "safety",
    "services",
    "digital_inclusion",
)
NO_DISTRICT = ""  # rollup key for located things outside every district


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class District(Base):
    __tablename__ = "districts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)  # GeoJSON Polygon/MultiPolygon
    population: Mapped[int] = mapped_column(Integer, default=0)
    area_km2: Mapped[float] = mapped_column(Float, default=0.0)
    centroid_lat: Mapped[float | None]
    centroid_lon: Mapped[float | None]
    # The parent area (a municipality or borough) of a metropolitan deployment's district;
    # None for a single city's districts.
    municipality_id: Mapped[str | None] = mapped_column(String(64), index=True)
    municipality_name: Mapped[str | None] = mapped_column(String(200))


class Source(Base):
    __tablename__ = "sources"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class FeedRun(Base):
    __tablename__ = "feed_runs"
    # one "running" run per source at a time, whichever process or machine starts it
    __table_args__ = (Index("ux_feed_run_running", "source_id", unique=True,
                            sqlite_where=text("status = 'running'"),
                            postgresql_where=text("status = 'running'")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    started: Mapped[datetime]
    finished: Mapped[datetime | None]
    # stamped every few seconds while the run is in progress (``connectors.runner``)
    heartbeat_at: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(String(200))  # host:pid running it
    status: Mapped[str] = mapped_column(String(20))  # running, ok, partial, failed
    records_in: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    watermark: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)


class Quarantine(Base):
    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("feed_runs.id"))
    received: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    stream: Mapped[str | None] = mapped_column(String(80))  # to replay it through
    missing: Mapped[str | None] = mapped_column(String(20), index=True)  # reference awaited:
    missing_ref: Mapped[str | None] = mapped_column(String(200))  # its kind and id


class Asset(Base):
    __tablename__ = "assets"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(200), unique=True)  # NGSI-LD URN
    type: Mapped[str] = mapped_column(String(80), index=True)  # FIWARE type
    domain: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"), index=True)
    status: Mapped[str] = mapped_column(String(40), default="ok")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_id: Mapped[str | None] = mapped_column(String(100))
    last_seen: Mapped[datetime | None]


class Observation(Base):
    """One value of one metric of one asset at one time (epoch seconds, UTC)."""

    __tablename__ = "observations"
    __table_args__ = {"sqlite_with_rowid": False}
    asset_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    time: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))


class LatestReading(Base):
    """The newest observation of each metric of each asset, kept by ingest: the pages'
    "latest value" in one seek however many months of raw readings (and monthly
    partitions) there are, and still known after the retention dropped the raw ones."""

    __tablename__ = "latest_readings"
    __table_args__ = {"sqlite_with_rowid": False}
    asset_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    time: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))


class Rollup(Base):
    """Pre-aggregated observations: ``Type.attribute`` x district x grain x bucket."""

    __tablename__ = "rollups"
    __table_args__ = {"sqlite_with_rowid": False}
    # Key order serves the KPI engine: one metric, one grain, a range of buckets, all districts.
    metric: Mapped[str] = mapped_column(String(120), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)  # hour | day
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, bucket start
    district_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class RequestBucketKey:
    """The key of a request rollup row: kind (``requests`` or ``cases``), grain (``hour``:
    UTC hours, ``day``: local days of the city's zone), bucket start (epoch s), district
    (``NO_DISTRICT`` outside every one), the service's domain and the department that
    handles it (``""`` when none is named); first in each table."""

    kind: Mapped[str] = mapped_column(String(8), primary_key=True, sort_order=-1)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True, sort_order=-1)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, sort_order=-1)
    district_id: Mapped[str] = mapped_column(String(64), primary_key=True, sort_order=-1)
    domain: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, sort_order=-1)


class RequestRollup(RequestBucketKey, Base):
    """Service requests (kind ``requests``) or cases (``cases``) summed per district x
    domain x department x grain x bucket, kept in step at ingest
    (``dashboard.store.request_rollups``).

    ``opened`` and ``digital`` count what was made in the bucket; ``closed``, ``closed_due``
    (with a due date) and ``closed_on_time`` what was closed in it; ``due_open_delta`` and
    ``overdue_delta`` are the bucket's changes to how many requests with a due date are open
    and how many of those are past it (a snapshot at any time is the sum before it);
    ``latest`` is the newest request or closing time seen (epoch s).
    """

    __tablename__ = "request_rollups"
    __table_args__ = {"sqlite_with_rowid": False}
    opened: Mapped[int] = mapped_column(BigInteger, default=0)
    digital: Mapped[int] = mapped_column(BigInteger, default=0)
    closed: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_due: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_on_time: Mapped[int] = mapped_column(BigInteger, default=0)
    due_open_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    overdue_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    latest: Mapped[int | None] = mapped_column(BigInteger)


class RequestDuration(RequestBucketKey, Base):
    """How many requests (or cases) closed in a bucket took each duration, in whole hours
    (``dashboard.store.request_rollups.duration_bin``): a histogram for medians."""

    __tablename__ = "request_durations"
    __table_args__ = {"sqlite_with_rowid": False}
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Service(Base):
    """Open311 service catalogue entry, with its department and SLA."""

    __tablename__ = "services"
    service_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    service_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str] = mapped_column(String(100))
    group: Mapped[str] = mapped_column(String(100), default="")
    domain: Mapped[str] = mapped_column(String(40), default="services")
    sla_hours: Mapped[float | None]
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    # Open311 attribute definitions (variable, code, datatype, required, description, order,
    # values), served by GET services/{code}; empty: the service needs none.
    attributes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_sr_district_requested", "district_id", "requested_at"),
        Index("ix_sr_district_closed", "district_id", "closed_at"),
        Index("ux_sr_token", "token", unique=True),
        Index("ix_sr_cell_requested", "h3_cell", "requested_at"),
        # the notifier finds the requests whose SLA due time has just passed
        Index("ix_sr_expected", "expected_at"),
    )
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # service_request_id
    service_code: Mapped[str] = mapped_column(String(60), index=True)
    service_name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)  # open | closed
    status_notes: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20), default="web", index=True)
    requested_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    expected_at: Mapped[datetime | None]  # due date from the service's SLA
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    address: Mapped[str] = mapped_column(String(300), default="")
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"))
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(100))
    # What residents wrote (description, address, status notes) is public only once a
    # member of staff approved it: "approved"; None or anything else keeps it private.
    moderation: Mapped[str | None] = mapped_column(String(10))
    # The token a request posted to the Open311 server is followed by (GET tokens/{token})
    token: Mapped[str | None] = mapped_column(String(40))
    # Answers to the service's Open311 attributes ({code: [values]}), never published
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # An open request of the same service close by when this one came in (a possible
    # duplicate), and what staff made of it: "suspected", "confirmed" or "rejected".
    duplicate_of: Mapped[str | None] = mapped_column(String(100))
    duplicate_state: Mapped[str | None] = mapped_column(String(10))
    # The H3 cell of its place (``dashboard.geo.HOTSPOT_RESOLUTION``), kept at ingest: the
    # hotspots of a period are a GROUP BY on it.
    h3_cell: Mapped[str | None] = mapped_column(String(16))


class RequestPhoto(Base):
    """The one photo a resident attached to a request, re-encoded without metadata
    (``dashboard.photos``); public only once the request is approved."""

    __tablename__ = "request_photos"
    request_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("service_requests.id", ondelete="CASCADE"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    received_at: Mapped[datetime]


class ApiKey(Base):
    """A key that an app posts Open311 requests with: its name and the key's SHA-256 (the
    key itself is shown once, when issued, and never stored)."""

    __tablename__ = "api_keys"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Citizen(Base):
    """A resident, by pseudonymous id; name and contact are personal data."""

    __tablename__ = "citizens"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"), index=True)
    birth_year: Mapped[int | None]
    consent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # citizen_search_key(name, email, phone), filled when the row is stored (Citizen 360)
    search_text: Mapped[str] = mapped_column(Text, default="")


def normalise_text(text: str | None) -> str:
    """``text`` lower case, accents stripped (NFKD), ASCII only, single-spaced."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return " ".join(decomposed.encode("ascii", "ignore").decode().split())


def citizen_search_key(name: str | None, email: str | None, phone: str | None) -> str:
    """The ``search_text`` of a citizen: folded name, folded e-mail and the phone's
    digits, separated by spaces (``"maria garcia lopez m.garcia@x.es 34942123456"``)."""
    digits = "".join(c for c in (phone or "") if "0" <= c <= "9")
    return " ".join(part for part in (normalise_text(name), normalise_text(email), digits) if part)


class Case(Base):
    """A legacy e-government procedure (permit, tax, registration, benefit)."""

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))  # open | resolved | rejected
    channel: Mapped[str] = mapped_column(String(20), default="in_person")
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"))
    opened_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column(index=True)


class Participation(Base):
    __tablename__ = "participation"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # survey, forum, consultation, event
    topic: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), default="web")
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"))
    time: Mapped[datetime] = mapped_column(index=True)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ux_alert", "asset_pk", "metric", "rule", "raised_at", unique=True),
                      Index("ix_alert_raised", "raised_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_pk: Mapped[int] = mapped_column(ForeignKey("assets.pk"))
    metric: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(120))
    severity: Mapped[str] = mapped_column(String(20))  # info | warning | critical
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(index=True)
    value: Mapped[float]
    district_id: Mapped[str | None] = mapped_column(String(64))


class Notice(Base):
    """News or an event for the noticeboard, with text per language."""

    __tablename__ = "notices"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # news | event
    title: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"es": ..., "en": ...}
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    place: Mapped[str] = mapped_column(String(200), default="")
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"))
    lat: Mapped[float | None]
    lon: Mapped[float | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(40))
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where briefings and notifications go, in which language, and how often the briefing
    # comes ("daily", "weekly", "monthly" or "off"); no e-mail address, no e-mail.
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    briefing: Mapped[str] = mapped_column(String(10), default="weekly",
                                          server_default="weekly")


class SignInSession(Base):
    """A signed-in browser session, kept on the server: signing out, idling or disabling the
    user ends it for good, whatever copy of the cookie is still around."""

    __tablename__ = "sign_in_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    username: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SignInThrottle(Base):
    """Sign-in attempts per account, client address or pair (``dashboard.auth.throttle``)."""

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]


class Meta(Base):
    """Small key/value facts about the store (data version, demo parameters)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Survey(Base):
    """A consultation: questions in each language (``dashboard.consultations``), for the
    whole city or one district, open between two moments."""

    __tablename__ = "surveys"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # a slug
    title: Mapped[dict[str, str]] = mapped_column(JSON)  # {lang: text}
    intro: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    department: Mapped[str] = mapped_column(String(100), default="")
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"))
    opens_at: Mapped[datetime] = mapped_column(index=True)
    closes_at: Mapped[datetime] = mapped_column(index=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    questions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]


class SurveyAnswer(Base):
    """One device's answers to a survey (no personal data: the device is a keyed hash of
    a random cookie), the choices and numbers; free text is kept apart for moderation."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ux_survey_device", "survey_id", "device", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    device: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20), default="web")
    submitted_at: Mapped[datetime]
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)  # {question id: [keys] | number}


class SurveyText(Base):
    """A free-text answer, seen by nobody but moderating staff until approved."""

    __tablename__ = "survey_texts"
    __table_args__ = (Index("ix_survey_text_state", "survey_id", "moderation"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    moderation: Mapped[str] = mapped_column(String(10), default="pending")


# ---- the commitments tracker (issue 19): its imports kept with it, at the end -------------
from datetime import date  # noqa: E402

from sqlalchemy import Date  # noqa: E402

COMMITMENT_STATUSES = ("planned", "under_way", "done", "delayed", "cancelled")


class Commitment(Base):
    """A project or pledge of the city, kept by staff (``dashboard.commitments``): titles
    per language, the department answering for it, a district (None: the whole city), the
    planned dates, status, % complete, milestones ``[{title: {lang: text}, due: ISO date,
    done_on: ISO date | None}]`` and the ids of the KPIs it should move."""

    __tablename__ = "commitments"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # a slug
    title: Mapped[dict[str, Any]] = mapped_column(JSON)  # {lang: text}
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    department: Mapped[str] = mapped_column(String(100), index=True)
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id"), index=True)
    budget_eur: Mapped[float | None] = mapped_column(Float)
    spent_eur: Mapped[float | None] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # planned
    status: Mapped[str] = mapped_column(String(20))  # COMMITMENT_STATUSES
    percent_complete: Mapped[float] = mapped_column(Float, default=0.0)  # 0..100
    kpis: Mapped[list[str]] = mapped_column(JSON, default=list)
    milestones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class CommitmentProgress(Base):
    """A commitment's % complete and status as staff set them at ``at``: one row per
    change, the history its public page draws."""

    __tablename__ = "commitment_progress"
    commitment_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    percent_complete: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300), default="")


class Subscription(Base):
    """What a user asked to hear about (an alert rule, a KPI crossing its target, a
    district, a department, optionally narrowed to a district) and how: in the app only,
    by e-mail or by webhook, at most one message per ``throttle_minutes``."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ux_subscription", "username", "kind", "target", "district_id",
                            "channel", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(
        String(100), ForeignKey("users.username", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # alert_rule | kpi | district | department
    target: Mapped[str] = mapped_column(String(100))
    district_id: Mapped[str] = mapped_column(String(64), default="")  # "": the whole city
    channel: Mapped[str] = mapped_column(String(10))  # in_app | email | webhook
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    throttle_minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class NotificationEvent(Base):
    """Something worth telling: an alert raised or cleared (written at ingest, in the
    ingest's transaction), a request past its SLA, a KPI crossing its target. ``key``
    makes each event happen once whoever notices it; ``matched_at`` is set once the
    event was matched to the subscriptions."""

    __tablename__ = "notification_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime]
    matched_at: Mapped[datetime | None] = mapped_column(index=True)
    rule: Mapped[str | None] = mapped_column(String(120))
    kpi: Mapped[str | None] = mapped_column(String(100))
    district_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    domain: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notification(Base):
    """An event in a user's in-app list (once per user, however many subscriptions
    matched it), read or not."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ux_notification", "username", "event_id", unique=True),
                      Index("ix_notification_user_time", "username", "created_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(
        String(100), ForeignKey("users.username", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class Delivery(Base):
    """One message sent (or being tried) by e-mail or webhook: a single event, a digest of
    several, or a briefing; its attempts, next try and last error make the delivery log.
    ``dedupe_key`` holds a briefing to one per user and period whoever sends it."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    subscription_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(10))  # single | digest | briefing
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    destination: Mapped[str] = mapped_column(String(320))  # address, or webhook host
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # pending|sending|sent|retrying|failed
    items: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeliveryItem(Base):
    """An event waiting to go out on one e-mail or webhook subscription; ``delivery_id``
    is the message that carried it (None: still waiting, gathered into the next one)."""

    __tablename__ = "delivery_items"
    __table_args__ = (Index("ux_delivery_item", "subscription_id", "event_id", unique=True),
                      Index("ix_delivery_item_waiting", "subscription_id", "delivery_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class KpiState(Base):
    """A KPI's last known standing against its target for a place ("" = the city), so a
    crossing is noticed once."""

    __tablename__ = "kpi_states"
    kpi: Mapped[str] = mapped_column(String(100), primary_key=True)
    district_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # on | near | off
    changed_at: Mapped[datetime]


class Lease(Base):
    """A named job held by one process until ``expires_at`` (the notifier's cycle: several
    schedulers may run, one works at a time)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]
