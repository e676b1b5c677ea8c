"""Custom time ranges: the interval spec, its URL form, the date picker and chart brushing
(cross-filtering by time), and the pages' read models over such a range."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dash import no_update

from callbacks.common import brushed_range, period_after
from dashboard.periods import (
    CUSTOM,
    clean_spec,
    custom_spec,
    is_custom,
    local_days_spec,
    period_for,
    period_label,
)
from dashboard.settings import Settings
from tests.conftest import TINY_NOW
from tests.test_services_queries import assert_summary, expected_summary, raw
from tests.tree import by_id, text_of

NOW = datetime(2026, 11, 23, 20, 17, tzinfo=timezone.utc)
MADRID = "Europe/Madrid"


# ---- the spec -------------------------------------------------------------------------------
def test_a_custom_range_is_whole_utc_hours_and_never_ends_after_now() -> None:
    spec = custom_spec(datetime(2026, 10, 3, 5, 40, tzinfo=timezone.utc),
                       datetime(2026, 10, 5, 7, 10, tzinfo=timezone.utc), NOW)
    assert spec == "2026-10-03T05:00Z/2026-10-05T08:00Z"
    period = period_for(spec, NOW)
    assert period.preset == CUSTOM and period.length == timedelta(hours=51)
    assert period.previous() is not None and period.previous().end == period.start
    year = period.year_ago()
    assert year is not None and period.start - year.start == timedelta(days=365)
    future = custom_spec(datetime(2026, 11, 20, tzinfo=timezone.utc),
                         datetime(2027, 1, 1, tzinfo=timezone.utc), NOW)
    assert future.endswith("/2026-11-23T21:00Z")
    with pytest.raises(ValueError, match="empty"):
        custom_spec(datetime(2026, 10, 5, tzinfo=timezone.utc),
                    datetime(2026, 10, 3, tzinfo=timezone.utc), NOW)
    with pytest.raises(ValueError, match="empty"):
        custom_spec(datetime(2027, 1, 1, tzinfo=timezone.utc),
                    datetime(2027, 2, 1, tzinfo=timezone.utc), NOW)
    with pytest.raises(ValueError, match="bad custom period"):
        period_for("2026-10-05T00:00Z/nonsense", NOW)


def test_clean_spec_accepts_presets_and_valid_ranges_only() -> None:
    assert clean_spec("7d", NOW) == "7d"
    assert clean_spec("2026-10-01T00:00:00+02:00/2026-10-02T00:00:00+02:00", NOW) == \
        "2026-09-30T22:00Z/2026-10-01T22:00Z"
    for junk in (None, "", "decade", "x/y", "2026-10-05/2026-10-01", 7, ["7d"]):
        assert clean_spec(junk, NOW) is None, junk
    assert is_custom("2026-10-01T00:00Z/2026-10-02T00:00Z") and not is_custom("30d")


def test_local_days_and_labels_follow_the_city_time_zone() -> None:
    spec = local_days_spec(date(2026, 10, 1), date(2026, 10, 14), MADRID, NOW)
    assert spec == "2026-09-30T22:00Z/2026-10-14T22:00Z"  # CEST: UTC+2
    assert period_label(spec, MADRID) == "1 Oct – 14 Oct 2026"
    # across the end of summer time (25 Oct 2026) the local days stay whole
    winter = local_days_spec(date(2026, 10, 24), date(2026, 10, 26), MADRID, NOW)
    assert winter == "2026-10-23T22:00Z/2026-10-26T23:00Z"
    assert period_label(local_days_spec(date(2026, 10, 1), date(2026, 10, 1), MADRID, NOW),
                        MADRID) == "1 Oct 2026"
    assert period_label("2026-10-03T12:00Z/2026-10-05T07:00Z", MADRID) == \
        "3 Oct 14:00 – 5 Oct 2026 09:00"
    assert period_label("7d", MADRID) == "Last 7 days"


# ---- URL ----------------------------------------------------------------------------------
def test_a_custom_range_lives_in_the_url_as_from_and_to(tiny_city: Settings) -> None:
    from layouts.filters import PageFilters, read_filters

    spec = "2026-11-01T00:00Z/2026-11-08T00:00Z"
    url = PageFilters(district="santander-01", period=spec).query()
    assert url == "?district=santander-01&from=2026-11-01T00%3A00Z&to=2026-11-08T00%3A00Z"
    back = read_filters(tiny_city, {"district": "santander-01", "from": "2026-11-01T00:00Z",
                                    "to": "2026-11-08T00:00Z"}, custom=True)
    assert back == PageFilters(district="santander-01", period=spec)
    # the control's value (an interval) is accepted as well as from/to
    assert read_filters(tiny_city, {"period": spec}, custom=True).period == spec
    # pages without a time chart keep to presets; a bad range falls back to the default
    assert read_filters(tiny_city, {"from": "2026-11-01T00:00Z", "to": "2026-11-08T00:00Z"}
                        ).period == "30d"
    assert read_filters(tiny_city, {"from": "2026-11-08T00:00Z", "to": "2026-11-01T00:00Z"},
                        custom=True).period == "30d"
    assert read_filters(tiny_city, {"from": "yesterday", "to": "now"}, "7d",
                        custom=True).period == "7d"


# ---- the period control, the date picker and brushing ---------------------------------
def after(trigger: str, period: str | None = "30d", start: str | None = None,
          end: str | None = None, relayout: dict[str, Any] | None = None) -> tuple[Any, ...]:
    return period_after(trigger, period, start, end, relayout, now=NOW, tz=MADRID,
                        default_period="30d")


def test_brushing_a_chart_sets_the_period_and_the_picker() -> None:
    relayout = {"xaxis.range[0]": "2026-10-03 14:20:11.52", "xaxis.range[1]": "2026-10-05 09:05"}
    spec, start, end = after("brush", relayout=relayout)
    assert spec == "2026-10-03T12:00Z/2026-10-05T08:00Z"  # local CEST -> UTC, whole hours
    assert (start, end) == ("2026-10-03", "2026-10-05")
    assert after("brush", relayout={"xaxis.range": ["2026-10-05", "2026-10-03"]})[0] == \
        "2026-10-02T22:00Z/2026-10-04T22:00Z"  # reversed bounds are put in order
    for other in ({"xaxis.autorange": True}, {"dragmode": "pan"}, None, {}):
        assert after("brush", relayout=other) == (no_update,) * 3
    assert brushed_range({"xaxis.range": ["a"]}) is None
    assert after("brush", relayout={"xaxis.range": ["2030-01-01", "2030-02-01"]}) == \
        (no_update,) * 3  # wholly in the future: nothing to show, nothing changes


def test_the_picker_and_the_presets() -> None:
    spec, start, end = after("range", start="2026-10-01", end="2026-10-14")
    assert spec == "2026-09-30T22:00Z/2026-10-14T22:00Z" and start is end is no_update
    assert after("range", start="2026-10-01", end=None) == (no_update,) * 3  # half picked
    assert after("range", start="2026-10-14", end="2026-10-01") == (no_update,) * 3
    assert after("range", period=spec, start=None, end=None)[0] == "30d"  # cleared
    assert after("range", period=spec, start="2026-10-01", end="2026-10-14") == \
        (no_update,) * 3  # already that range
    assert after("period", "7d", "2026-10-01", "2026-10-14") == (no_update, None, None)
    assert after("period", "7d") == (no_update,) * 3


# ---- pages over a custom range --------------------------------------------------------------
def test_services_read_models_follow_a_custom_range(tiny_city: Settings) -> None:
    from dashboard.queries.services import RequestScope, headline
    from dashboard.queries.services_trend_map import request_trend

    start, end = TINY_NOW - timedelta(days=12, hours=5), TINY_NOW - timedelta(days=2)
    spec = custom_spec(start, end, TINY_NOW)
    data = headline(tiny_city, RequestScope(), spec, "previous")
    want = expected_summary(raw(tiny_city), start, end)
    assert want["received"] > 0 and want["closed"] > 0
    assert_summary(data["current"], want)
    before = expected_summary(raw(tiny_city), start - (end - start), start)
    assert_summary(data["compared"], before)
    trend = request_trend(tiny_city, RequestScope(), spec)
    assert trend["grain"] == "day"  # 10 days: one bar per day
    assert sum(r["received"] for r in trend["rows"]) == data["current"]["received"]
    short = request_trend(tiny_city, RequestScope(), custom_spec(end - timedelta(hours=30),
                                                                 end, TINY_NOW))
    assert short["grain"] == "hour"


def test_a_brush_on_the_services_trend_filters_the_page(in_app: None,
                                                        tiny_city: Settings) -> None:
    from callbacks.services import update_headline, update_period_views
    from layouts.services import layout

    zone = ZoneInfo(tiny_city.timezone)
    first = (TINY_NOW - timedelta(days=9)).astimezone(zone).replace(tzinfo=None)
    last = (TINY_NOW - timedelta(days=4)).astimezone(zone).replace(tzinfo=None)
    spec, picked_start, _ = period_after(
        "brush", "30d", None, None,
        {"xaxis.range[0]": first.isoformat(" "), "xaxis.range[1]": last.isoformat(" ")},
        now=TINY_NOW, tz=tiny_city.timezone, default_period="30d")
    assert picked_start == first.date().isoformat()
    subtitle, cards = update_headline("", "", spec, "", "", "")
    assert period_label(spec, tiny_city.timezone) in subtitle
    want = expected_summary(raw(tiny_city), first.replace(tzinfo=zone),
                            last.replace(tzinfo=zone))
    assert want["received"] > 0 and f"{want['received']:,}" in text_of(cards)
    trend, _, _ = update_period_views("", "", "", "", spec)
    assert "per day" in text_of(trend)
    # the shared link opens the same range, with the picker showing its days
    head, _, tail = spec.partition("/")
    tree = layout(**{"from": head, "to": tail})
    assert by_id(tree, "services-period").value == spec
    assert by_id(tree, "services-range").start_date == first.date().isoformat()


def test_alert_days_are_local_and_a_custom_range_narrows_the_alerts(
        in_app: None, tiny_city: Settings) -> None:
    from callbacks.alerts import update_alerts
    from dashboard.queries.alerts import alert_counts, alert_rows

    spec = custom_spec(TINY_NOW - timedelta(days=9), TINY_NOW - timedelta(days=3), TINY_NOW)
    period = period_for(spec, TINY_NOW)
    everything = alert_rows(tiny_city, period_for("all", TINY_NOW))["rows"]
    counts = alert_counts(tiny_city, period)
    zone = ZoneInfo(tiny_city.timezone)
    raised = [a for a in everything
              if period.start <= datetime.fromisoformat(a["raised_at"]) < period.end]
    days = Counter(datetime.fromisoformat(a["raised_at"]).astimezone(zone).date().isoformat()
                   for a in raised)
    assert raised and len(raised) < len(everything)
    assert {d["day"]: d["critical"] + d["warning"] + d["info"] for d in counts["daily"]} == days
    assert sum(counts["raised"].values()) == len(raised)
    body, subtitle = update_alerts("", "", spec, "", "raised", "", "")
    assert f"Raised · {period_label(spec, tiny_city.timezone)}" in text_of(body)
    # a forged period value falls back to the page's default instead of failing
    update_alerts("", "", "2026-13-01T00:00Z/x", "", "all", "", "")
