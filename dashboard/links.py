"""The app's paths to drill-down pages, shared by read models and layouts."""
from __future__ import annotations

from urllib.parse import quote


def asset_href(asset_id: str) -> str:
    """The asset page of ``asset_id``: ``/asset/<id>``, the URN's colons kept readable and
    everything else URL-quoted."""
    return f"/asset/{quote(asset_id, safe=':')}"


def request_href(request_id: str) -> str:
    """The own page of service request ``request_id``: ``/request/<id>``, URL-quoted."""
    return f"/request/{quote(request_id, safe='')}"
