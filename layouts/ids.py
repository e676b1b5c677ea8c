"""Every component id of the pages, in one place.

String constants are prefixed by page (``overview-...``); the few ids that end-to-end
tests rely on are fixed by the issue (``city-score``, ``district-filter``,
``window-filter``, ``city-map``). Pattern-matching ids come from small factories.
"""
from __future__ import annotations

from typing import Any

# --- shell (every page) ---------------------------------------------------------------
SHELL_HEADER = "shell-header"
SHELL_NAV = "shell-nav"
SHELL_MENU = "shell-menu"  # the navigation and account, folded on a phone
SHELL_MENU_TOGGLE = "shell-menu-toggle"
SHELL_FOOTER = "shell-footer"
SHELL_ACCOUNT = "shell-account"
SHELL_CSRF = "shell-csrf"

# --- overview page ---------------------------------------------------------------------
OVERVIEW_URL = "overview-url"  # dcc.Location that mirrors the selection (no reload)
OVERVIEW_PAGE = "overview-page"
DISTRICT_FILTER = "district-filter"  # dcc.Dropdown (stable e2e hook)
WINDOW_FILTER = "window-filter"  # dcc.RadioItems (stable e2e hook)
OVERVIEW_DEPARTMENT = "overview-department"  # dcc.Dropdown: filter to one department
OVERVIEW_COMPARE = "overview-compare"  # dcc.Dropdown: KPI cards vs "" previous / "year" ago
OVERVIEW_FILTERS = "overview-filters"  # the filter bar (folds on a phone)
OVERVIEW_NAV = "overview-nav"  # dcc.Location (callback-nav): a district click opens its page
OVERVIEW_ALERTS_LINK = "overview-alerts-link"
OVERVIEW_MAP_KPI = "overview-map-kpi"  # dcc.Dropdown: shade districts by a KPI
CITY_SCORE = "city-score"  # the city score badge (stable e2e hook)
OVERVIEW_SCORE_PANEL = "overview-score-panel"
OVERVIEW_KPI_GRID = "overview-kpi-grid"
OVERVIEW_KPI_EXPORT = "overview-kpi-export"
OVERVIEW_ALERTS = "overview-alerts"
OVERVIEW_LIVE = "overview-live"  # dcc.Store: the data version the numbers show (live.js)
OVERVIEW_SUBTITLE = "overview-subtitle"
OVERVIEW_PLACE_TITLE = "overview-place-title"
CITY_MAP = "city-map"  # dl.Map (stable e2e hook)
OVERVIEW_DISTRICT_LAYER = "overview-district-layer"  # dl.GeoJSON of district polygons
OVERVIEW_SELECTION_LAYER = "overview-selection-layer"  # dl.GeoJSON: the selected outline
OVERVIEW_MUNICIPALITY_LAYER = "overview-municipality-layer"  # dl.GeoJSON: their boundaries
OVERVIEW_MAP_LEGEND = "overview-map-legend"
OVERVIEW_ASSET_LEGEND = "overview-asset-legend"  # the asset layers' colours (those switched on)
OVERVIEW_LAYERS_CONTROL = "overview-layers-control"  # its ``overlays`` = checked layer names
OVERVIEW_ASSETS_LOADED = "overview-assets-loaded"  # dcc.Store: domain -> district it holds

KPI_CARD_TYPE = "overview-kpi-card"
KPI_SPARK_TYPE = "overview-kpi-spark"
ASSET_LAYER_TYPE = "overview-asset-layer"


def kpi_card(kpi_id: str) -> dict[str, str]:
    """Pattern-matching id of one KPI card."""
    return {"type": KPI_CARD_TYPE, "kpi": kpi_id}


def kpi_spark(kpi_id: str) -> dict[str, str]:
    """Pattern-matching id of one KPI card's sparkline graph."""
    return {"type": KPI_SPARK_TYPE, "kpi": kpi_id}


def asset_layer(domain: str) -> dict[str, str]:
    """Pattern-matching id of the map's asset layer (dl.GeoJSON) for one domain."""
    return {"type": ASSET_LAYER_TYPE, "domain": domain}

# --- feed health page --------------------------------------------------------------------
FEEDS_URL = "feeds-url"
FEEDS_REFRESH = "feeds-refresh"  # dcc.Interval
FEEDS_TABLE = "feeds-table"
FEEDS_SUMMARY = "feeds-summary"
FEEDS_QUARANTINE_SOURCE = "feeds-quarantine-source"  # dcc.Dropdown
FEEDS_QUARANTINE = "feeds-quarantine"

# --- pages with the shared filter bar (district, department, period, compare) -----------
# Each page prefixes its ids with its own name, from these factories, so two pages never
# share an id (Dash Pages shows one page at a time, but callbacks are global).
EXPORT_TYPE = "export"  # pattern-matching id of an export button


def page_id(page: str, name: str) -> str:
    """``<page>-<name>``: a page's own component id (``services-district``)."""
    return f"{page}-{name}"


def export_button(page: str, what: str) -> dict[str, str]:
    """Pattern-matching id of one export button of a page (``what`` names the export)."""
    return {"type": EXPORT_TYPE, "page": page, "what": what}

# --- notifications (/notifications), its "Notify me" buttons, the unread count ----------
# The page's own ids come from ``page_id(NOTIFICATIONS, ...)``; these are used elsewhere too.
NOTIFICATIONS = "notifications"
NOTIFICATIONS_UNREAD = "notifications-unread"  # the count in the staff navigation's link
NOTIFICATIONS_UNREAD_TICK = "notifications-unread-tick"  # dcc.Interval: re-read it (60 s)
NOTIFY_ME_TYPE = "notifications-notify-me"  # a "Notify me" button on any staff page
NOTIFY_STATUS_TYPE = "notifications-notify-status"  # what that button's click did
NOTIFICATION_ITEM_TYPE = "notifications-item"  # "Mark read" / "Mark unread" of one item
SUBSCRIPTION_REMOVE_TYPE = "notifications-remove"  # "Remove" of one subscription
DELIVERIES = "deliveries"  # the delivery log (/deliveries): ``page_id(DELIVERIES, ...)``


def notify_me(kind: Any, target: Any, district: Any = "") -> dict[str, Any]:
    """Pattern-matching id of the "Notify me" button for one thing to subscribe to (any
    argument may be a wildcard, ``MATCH`` or ``ALL``, as in the other factories)."""
    return {"type": NOTIFY_ME_TYPE, "kind": kind, "target": target, "district": district}


def notify_status(kind: Any, target: Any, district: Any = "") -> dict[str, Any]:
    """Pattern-matching id of where that button says what its click did."""
    return {"type": NOTIFY_STATUS_TYPE, "kind": kind, "target": target, "district": district}


def notification_item(notification_id: Any, to: Any) -> dict[str, Any]:
    """Pattern-matching id of one notification's button marking it ``to`` read|unread."""
    return {"type": NOTIFICATION_ITEM_TYPE, "id": notification_id, "to": to}


def subscription_remove(subscription_id: Any) -> dict[str, Any]:
    """Pattern-matching id of one subscription's "Remove" button."""
    return {"type": SUBSCRIPTION_REMOVE_TYPE, "id": subscription_id}
