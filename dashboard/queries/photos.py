"""Residents' photos of service requests, read for whoever may see them: the public only
once staff approved the request (``moderation = 'approved'``), staff for the requests
they may see (a department head: their departments' only). Never cached: each read is
one row by its primary key, and a photo must disappear the moment approval is withdrawn."""
from __future__ import annotations

from sqlalchemy import Connection, select

from dashboard.auth.users import Principal
from dashboard.model import RequestPhoto, ServiceRequest
from dashboard.queries.moderation import DECISIONS, staff_request

APPROVED = DECISIONS["approve"][0]
Photo = tuple[bytes, str]  # (content, media type)


def photo_of(conn: Connection, request_id: str) -> Photo | None:
    """(content, media type) of request ``request_id``'s photo, whoever asks; None: none."""
    row = conn.execute(select(RequestPhoto.content, RequestPhoto.media_type)
                       .where(RequestPhoto.request_id == request_id)).first()
    return (bytes(row.content), str(row.media_type)) if row is not None else None


def public_photo(conn: Connection, request_id: str) -> Photo | None:
    """The photo of an approved request; None when there is none or it is not approved."""
    row = conn.execute(select(RequestPhoto.content, RequestPhoto.media_type)
                       .join(ServiceRequest, ServiceRequest.id == RequestPhoto.request_id)
                       .where(RequestPhoto.request_id == request_id,
                              ServiceRequest.moderation == APPROVED)).first()
    return (bytes(row.content), str(row.media_type)) if row is not None else None


def staff_photo(conn: Connection, who: Principal, request_id: str) -> Photo | None:
    """The photo of a request ``who`` may see as staff (any moderation state); None when
    there is none or the request is not theirs to see. The caller checks ``who`` is staff."""
    try:
        staff_request(conn, who, request_id)
    except LookupError:
        return None
    return photo_of(conn, request_id)
