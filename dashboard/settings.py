"""Runtime settings, read from ``CITYLENS_*`` environment variables (and CLI flags)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Everything a deployment can change without touching code."""

    model_config = SettingsConfigDict(env_prefix="CITYLENS_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    cache_ttl_seconds: int = 300
    # After an ingest, a cached view up to this old is served while it is recomputed in
    # the background (stale-while-revalidate); 0 makes every viewer wait for fresh numbers.
    cache_stale_seconds: int = 300
    # Cached views keep until a write touches what they read (off: until any write, the
    # old way, which bench/live.py measures beside it).
    cache_scopes: bool = True
    # A connector run recomputes the overview's default views into a shared cache (Redis).
    warm_after_ingest: bool = True
    # The staff pages' rendered callback answers are kept until the data they read
    # changes (callbacks/response_cache.py).
    keep_answers: bool = True
    # Each source keeps the history of its newest runs this many (a feed that reports every
    # few seconds would add 17 k a day); older finished runs go, except those whose
    # quarantined records still point at them.
    feed_runs_kept: int = Field(default=1000, ge=10)
    # The task queue of `citylens worker` and `citylens scheduler` (Celery): its broker and
    # the queue their tasks go through (one per city when several share a broker).
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    queue: str = Field(default="citylens", min_length=1)
    # Plausible times of what a feed sends: nothing before this date, no reading or request
    # later than now plus this skew (planned things such as due dates: up to ten years on).
    # Anything else is quarantined with its reason and never moves a watermark.
    earliest_record: datetime = datetime(1970, 1, 1, tzinfo=timezone.utc)
    future_skew_minutes: int = Field(default=15, ge=0)
    # Raw readings are kept for this many whole months before the current one (0: for
    # ever). `citylens db maintain` drops older ones (whole monthly partitions on
    # PostgreSQL) while the hour and day rollups, and so every KPI, stay; a reading older
    # than that is quarantined with its reason.
    raw_retention_months: int = Field(default=0, ge=0)
    # PostgreSQL: `citylens db maintain` keeps the observations' monthly partitions created
    # this many months ahead of the current one.
    partitions_ahead_months: int = Field(default=3, ge=1, le=120)
    # While the demo serves, its simulated sensors publish here when a broker answers
    # (empty: always through files).
    demo_mqtt_url: str = "mqtt://127.0.0.1:1883"
    # Responses say how many views they computed and served stale (X-CityLens-Computed,
    # X-CityLens-Stale): for bench/live.py, off in production.
    cache_headers: bool = False
    # Staff pages check the data version this often and redraw their numbers when it changed
    # (never while someone is using the page).
    live_poll_seconds: int = 20
    kpis_file: Path = DATA_DIR / "kpis.yaml"
    timezone: str = "Europe/Madrid"
    # Empty means no tile layer: district polygons are the base map (works offline).
    tile_url: str = ""
    tile_attribution: str = ""
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False
    # Fixes "now" for reproducible views and tests; unset means the wall clock.
    now: datetime | None = None
    # Signs session cookies. Empty: a random key kept in var/secret_key (one per install);
    # set it when several machines serve the same city.
    secret_key: str = ""
    # Sign-in sessions end after this long without a request, and this long after sign-in.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # The public kiosk: its default language (?lang= and a toggle change it), seconds per
    # slide, seconds it stays paused after a touch, seconds between checks for new data.
    kiosk_language: str = "es"
    kiosk_slide_seconds: int = 12
    kiosk_pause_seconds: int = 60
    kiosk_poll_seconds: int = 30
    # Send the session cookie over HTTPS only and ask browsers for HTTPS from then on (HSTS);
    # set behind TLS, off for the local demo.
    secure_cookies: bool = False
    # How many reverse proxies in front set X-Forwarded-For/-Proto: their last address is
    # the client's (sign-in throttling is per client address). 0: no proxy, trust nothing.
    trusted_proxies: int = 0
    # Connectors' retries (connectors/retry.py): tries in all, and the first wait's ceiling
    # in seconds (doubling, with jitter; a server's Retry-After is honoured). 0: no waits.
    retry_attempts: int = 4
    retry_base_seconds: float = 0.5
    # Public writes (a service request posted to the Open311 server) allowed per client
    # address and per api_key ("N per minute|hour|day"); counted in Redis when configured.
    public_write_rate_per_address: str = "10 per minute"
    public_write_rate_per_key: str = "600 per minute"
    # Public reads (the open-data API, the NGSI-LD context source, the open-data files and
    # the Open311 server's GETs) allowed per client address ("N per minute|hour|day"): a
    # federating broker or a harvester stays well under it; empty: no limit.
    public_read_rate: str = "600 per minute"
    # The Open311 server's jurisdiction_id (e.g. "santander.es"): a call naming another is
    # refused; empty: any is accepted (a server of one jurisdiction need not name it).
    open311_jurisdiction: str = ""
    # Bearer token that NGSI brokers must send to POST /ngsi/notify/<source>; empty: no endpoint.
    notify_token: str = ""
    # The source ids that notifications may write to (comma-separated or a JSON list, e.g.
    # "air-push,traffic-push"); a POST to any other source is a 404. Empty: none may.
    notify_sources: Annotated[list[str], NoDecode] = []
    # Where links in e-mails, webhooks and briefings point: the address staff open
    # CityLens at (behind the city's proxy, its public https address).
    public_url: str = "http://127.0.0.1:8050"
    # E-mail (briefings and subscriptions): the SMTP server; no host, no e-mail is sent
    # (deliveries wait in the log as failed with the reason). TLS: "starttls", "ssl" or "".
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: Literal["", "starttls", "ssl"] = ""
    smtp_from: str = "CityLens <citylens@localhost>"
    smtp_timeout_seconds: float = Field(default=15, gt=0)
    # Webhooks go to public https addresses; hosts listed here (comma-separated) may also
    # be plain http or on a private network (a chat server inside the city's network).
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = []
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    # Notifications: an event waits this long for others to join it in one message (a
    # storm of alerts becomes one digest); a new subscription's default interval between
    # two messages; tries of a failing delivery (waits double from the backoff).
    notify_gather_seconds: int = Field(default=60, ge=0)
    notify_throttle_minutes: int = Field(default=60, ge=0)
    delivery_attempts: int = Field(default=6, ge=1)
    delivery_backoff_seconds: float = Field(default=60, ge=0)
    notify_every_seconds: int = Field(default=30, ge=1)
    notify_kpi_window: str = "week"
    notify_keep_days: int = Field(default=90, ge=1)
    # The briefing goes out after this local hour: daily for the day before, weekly on
    # Mondays for the week before, monthly on the 1st for the month before.
    briefing_hour: int = Field(default=7, ge=0, le=23)
    # Open data (docs/opendata.md): the bulk files under var/opendata are refreshed this
    # often (those whose data changed); the KPI file holds this many days. The catalogue
    # (DCAT-AP) names the publisher, its kind (ADMS publisher type), a contact address
    # (empty: the address of smtp_from) and the licence (EU licence vocabulary URI).
    opendata_every_seconds: int = Field(default=3600, ge=60)
    opendata_kpi_days: int = Field(default=366, ge=1)
    opendata_publisher: str = "CityLens"
    opendata_publisher_type: str = "http://purl.org/adms/publishertype/LocalAuthority"
    opendata_contact_email: str = ""
    opendata_license: str = "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"

    @field_validator("redis_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("notify_sources", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``"a, b"`` -> ``["a", "b"]``; a JSON list (``'["a", "b"]'``) is read as JSON."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under ``var/``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'citylens.db').resolve()}"

    def current_time(self) -> datetime:
        """The reference "now" (UTC, aware)."""
        if self.now is not None:
            return self.now if self.now.tzinfo else self.now.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (read once from the environment)."""
    return Settings()
