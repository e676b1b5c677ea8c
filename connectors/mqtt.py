"""MQTT connector: live telemetry from a broker, as observations of known devices.

A run subscribes to ``topics`` and reads messages until ``count`` messages or ``seconds``
have passed, or, with ``listen``, until it is stopped (``citylens listen mqtt``: a
long-lived listener; several listeners of one ``share`` group split the messages through
an MQTT shared subscription, ``$share/<group>/<topic>``). Payloads are JSON in the
FIWARE IoT Agent style (see ``connectors.mqtt_parse``). Live data is not filtered by the
watermark; the cursor is the receive time.

Messages are acknowledged only once committed: the stream asks the runner for a commit
(``COMMIT_POINT``) whenever its queue runs dry, every ``commit_every`` messages or
``commit_ms`` after the oldest uncommitted one, and before it disconnects, and
acknowledges what was committed. With a ``client_id`` (a persistent
session, QoS 1) a kill -9 or a broker restart at any instant loses nothing: what was not
acknowledged comes again, and a message that carries its ``TimeInstant`` is stored once
however often it comes (one without gets its receive time, so a redelivery is a reading
of its own). QoS 2 is refused: paho hands a QoS 2 message over only after the broker
has forgotten it, so it could be lost between that and the commit.
"""
from __future__ import annotations

import queue
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import (
    COMMIT_POINT,
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    Stream,
)
from connectors.mqtt_parse import Defaults, DeviceMapping, check_domain, map_message
from connectors.registry import register
from connectors.retry import Retryable, call_with_retries, current_policy

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
POLL_SECONDS = 0.1
ACK_EVERY = 1_000  # while messages keep coming, commit and acknowledge at least this often
STOP = threading.Event()  # set (by a signal handler) to end a listener cleanly: commit, leave


class MqttConfig(ConnectorConfig):
    """Which broker and topics to listen to, for how long, and which devices they carry."""

    location: str = Field(description="mqtt://host:port or mqtts://host:port")
    username: SecretStr | None = None
    password: SecretStr | None = None
    topics: list[str] = Field(default_factory=lambda: ["/+/+/attrs"], min_length=1)
    qos: int = Field(default=1, ge=0, le=1,
                     description="1: acknowledged after commit; 0: may be lost")
    seconds: float | None = Field(default=None, gt=0, description="stop after this long")
    count: int | None = Field(default=None, ge=1, description="stop after this many messages")
    client_id: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="set: a persistent session, so messages "
                                              "published while no run listens wait for it")
    devices: dict[str, DeviceMapping] = Field(default_factory=dict,
                                              description="topic or device id -> asset")
    default_type: str = Field(default="Device", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    default_domain: str = "environment"
    accept_unknown_devices: bool = True
    keepalive: int = Field(default=60, ge=5)
    timeout_seconds: float = Field(default=10, gt=0, description="connect timeout")
    listen: bool = Field(default=False, description="keep listening until stopped (a "
                                                    "long-lived listener), no count or seconds")
    commit_every: int = Field(default=ACK_EVERY, ge=1, le=100_000,
                              description="commit and acknowledge after this many messages")
    commit_ms: int = Field(default=1_000, ge=10, description="... or once the oldest "
                                                             "uncommitted one is this old")
    share: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                              description="shared subscription group: listeners of one "
                                          "group split the messages ($share/<group>/<topic>)")
    ca_file: str | None = Field(default=None, description="CA bundle for mqtts")

    @field_validator("default_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return check_domain(value) or value

    @field_validator("topics")
    @classmethod
    def _filters(cls, value: list[str]) -> list[str]:
        for topic in value:
            levels = topic.split("/")
            bad = not topic or "\x00" in topic or any(
                ("+" in level and level != "+") or ("#" in level and level != "#")
                for level in levels
            ) or "#" in levels[:-1]
            if bad:
                raise ValueError(f"not a valid MQTT topic filter: {topic!r}")
        return value

    @model_validator(mode="after")
    def _broker(self) -> MqttConfig:
        """Check the URL; move credentials out of it (the location is stored in clear)."""
        url = urlsplit(self.location)
        if url.scheme not in DEFAULT_PORTS or not url.hostname:
            raise ValueError(f"location must be mqtt://host[:port] or mqtts://…: {url.scheme!r}")
        try:
            url.port  # noqa: B018 - raises on a bad port
        except ValueError as error:
            raise ValueError(f"bad port in location: {error}") from None
        if url.username is not None and self.username is None:
            self.username = SecretStr(unquote(url.username))
        if url.password is not None and self.password is None:
            self.password = SecretStr(unquote(url.password))
        if url.username is not None or url.password is not None:
            netloc = url.netloc.rsplit("@", 1)[-1]
            self.location = url._replace(netloc=netloc).geturl()
        if self.seconds is None and self.count is None and not self.listen:
            raise ValueError("set count or seconds (a run stops after either), or listen")
        return self

    def subscriptions(self) -> list[str]:
        """The topic filters as subscribed: ``$share/<group>/<filter>`` in a group."""
        if self.share is None:
            return list(self.topics)
        return [f"$share/{self.share}/{topic}" for topic in self.topics]

    def broker(self) -> tuple[str, int, bool]:
        """Host, port and whether TLS is used."""
        url = urlsplit(self.location)
        return url.hostname or "", url.port or DEFAULT_PORTS[url.scheme], url.scheme == "mqtts"


class _Session:
    """A connected paho client that queues the messages of its subscriptions."""

    def __init__(self, config: MqttConfig, subscribe: bool = True) -> None:
        self.config = config
        self.subscribe = subscribe
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.refused: str | None = None
        self.lost_at: float | None = None  # monotonic time the connection dropped
        persistent = config.client_id is not None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=config.client_id or "", clean_session=not persistent,
                                  manual_ack=True)
        if config.username is not None:
            password = config.password.get_secret_value() if config.password else None
            self.client.username_pw_set(config.username.get_secret_value(), password)
        if config.broker()[2]:
            self.client.tls_set(ca_certs=config.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.client.connect_timeout = config.timeout_seconds
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
        else:
            if self.subscribe:
                client.subscribe([(topic, self.config.qos)
                                  for topic in self.config.subscriptions()])
            self.lost_at = None
            self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self.connected.clear()
        self.lost_at = self.lost_at or time.monotonic()

    def check_alive(self) -> None:
        """ConnectionError once paho's reconnecting has failed for too long."""
        grace = self.config.timeout_seconds + current_policy().longest_wait()
        if self.lost_at is not None and time.monotonic() - self.lost_at > grace:
            raise ConnectionError(f"{self.where}: connection lost and not regained")

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def open(self) -> None:
        """Connect (retrying under the connectors' policy) and start the network loop;
        ConnectionError when the broker stays away or refuses us."""
        host, port, _ = self.config.broker()
        policy = current_policy()

        def attempt() -> None:
            try:
                self.client.connect(host, port, keepalive=self.config.keepalive)
            except (OSError, ValueError) as error:
                raise Retryable(f"{type(error).__name__}: {error}") from error
            self.client.loop_start()
            if self._wait_connack():
                return
            self.close()
            if self.refused:  # wrong credentials or client id do not heal by retrying
                raise ConnectionError(f"{self.where}: connection refused ({self.refused})")
            raise Retryable("no answer to CONNECT")

        try:
            call_with_retries(attempt, policy)
        except Retryable as error:
            raise ConnectionError(f"{self.where}: unreachable after {policy.attempts} tries "
                                  f"({error})") from None

    def _wait_connack(self) -> bool:
        deadline = time.monotonic() + self.config.timeout_seconds
        while time.monotonic() < deadline and self.refused is None:
            if self.connected.wait(POLL_SECONDS):
                return True
        return False

    @property
    def where(self) -> str:
        host, port, _ = self.config.broker()
        return f"{host}:{port}"

    def close(self) -> None:
        """Disconnect and stop the network loop."""
        self.client.disconnect()
        self.client.loop_stop()


def message_record(message: mqtt.MQTTMessage, received: datetime | None = None) -> dict[str, Any]:
    """The raw record of a message: topic, payload text and receive time."""
    moment = received or datetime.now(timezone.utc)
    return {"topic": message.topic, "payload": message.payload.decode("utf-8", "replace"),
            "received": moment.isoformat()}


class TelemetryStream(Stream):
    """Messages of the subscribed topics, as observations (and last-seen) of devices."""

    name = "telemetry"
    primary_key = ("topic", "received")
    cursor_field = "received"
    entity = "Observation"

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.defaults = Defaults(config.default_type, config.default_domain,
                                 config.accept_unknown_devices)
        self._session: _Session | None = None
        self._unacked: list[tuple[int, int]] = []  # (mid, qos) yielded, not acknowledged

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        """Yield messages until ``count`` or ``seconds``, and a ``COMMIT_POINT`` whenever
        none is waiting (and before disconnecting); the watermark is not used."""
        session = _Session(self.config)
        session.open()
        if not session.subscribed.wait(self.config.timeout_seconds):
            session.close()
            raise ConnectionError(f"{session.where}: subscription not acknowledged")
        self._session, self._unacked = session, []
        limit = self.config.count
        deadline = (time.monotonic() + self.config.seconds) if self.config.seconds else None
        oldest_wait = self.config.commit_ms / 1000
        read = 0
        oldest: float | None = None  # when the oldest uncommitted message was read
        try:
            while (limit is None or read < limit) and not STOP.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                if oldest is not None and time.monotonic() - oldest >= oldest_wait:
                    oldest = None
                    yield COMMIT_POINT  # a steady stream still commits every commit_ms
                try:
                    message = session.messages.get_nowait()
                except queue.Empty:
                    if self._unacked or oldest is not None:  # idle: store what was read
                        oldest = None
                        yield COMMIT_POINT
                        continue
                    try:
                        message = session.messages.get(timeout=min(POLL_SECONDS,
                                                                   left or POLL_SECONDS))
                    except queue.Empty:
                        session.check_alive()
                        continue
                read += 1
                oldest = oldest or time.monotonic()
                if message.qos:  # acknowledged once the runner has committed it
                    self._unacked.append((message.mid, message.qos))
                yield message_record(message)
                if len(self._unacked) >= self.config.commit_every:
                    oldest = None
                    yield COMMIT_POINT
            yield COMMIT_POINT  # the last ones, while the session is still open
        finally:
            session.close()
            self._session = None

    def acknowledge(self) -> None:
        """Acknowledge to the broker the messages yielded so far (now committed)."""
        if self._session is not None:
            for mid, qos in self._unacked:
                self._session.client.ack(mid, qos)
        self._unacked = []

    def map(self, record: Mapping[str, Any]) -> Mapped:
        asset, observations, cursor = map_message(record, self.config.devices, self.defaults)
        return Mapped(assets=[asset], observations=observations, cursor=cursor)


@register
class MqttConnector(Connector):
    """An MQTT broker carrying device telemetry."""

    kind: ClassVar[str] = "mqtt"
    config_model: ClassVar[type[ConnectorConfig]] = MqttConfig
    config: MqttConfig

    def check(self) -> CheckResult:
        """Connect to the broker once (no retries, no subscription)."""
        session = _Session(self.config, subscribe=False)
        host, port, _ = self.config.broker()
        try:
            session.client.connect(host, port, keepalive=self.config.keepalive)
        except (OSError, ValueError) as error:
            return CheckResult(ok=False, message=f"{session.where}: {type(error).__name__}: "
                                                 f"{error}")
        session.client.loop_start()
        try:
            if session._wait_connack():
                return CheckResult(ok=True, message=f"{session.where}: connected")
            reason = session.refused or "no answer to CONNECT"
            return CheckResult(ok=False, message=f"{session.where}: {reason}")
        finally:
            session.close()

    def streams(self) -> list[Stream]:
        """The one telemetry stream."""
        return [TelemetryStream(self.config)]
