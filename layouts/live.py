"""What makes a staff page live (``assets/live.js``): a hidden store its data callbacks take
as an input, set to the new data version when the page's numbers should be redrawn."""
from __future__ import annotations

from dash import dcc, html

from dashboard import queries
from dashboard.settings import Settings


def live_watch(store_id: str, settings: Settings) -> html.Div:
    """The store ``store_id`` holding the data version the page is drawn from, and what
    ``live.js`` needs: its id and how often to check the version."""
    version = queries.data_version_of(settings)
    return html.Div(dcc.Store(id=store_id, data=version), hidden=True, className="live-watch",
                    **{"data-live-store": store_id, "data-live-version": version,
                       "data-live-poll": str(settings.live_poll_seconds)})
