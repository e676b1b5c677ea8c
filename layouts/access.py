"""The access rules the pages declare, enforced twice: by the guard before a request runs
(``dashboard.auth.guard``) and again where the data is read (each page's layout and each
callback, wrapped here).

Every page registers ``roles`` (who may open it) and ``callback_ids`` (component-id prefix ->
roles that may have its callbacks answered) with ``dash.register_page``. A page that
declares no roles is open to nobody; a component id no page claims is written by nobody.

The page a path opens is decided by Dash's own lookup (``strip_relative_path`` then
``_path_to_page``, exactly what its pages router runs), so the guard and the router cannot
disagree about which page a path means.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import dash
from dash import html
from dash._pages import _path_to_page  # the router's own lookup (no public equivalent)
from flask import abort

from dashboard.auth.access import (
    allowed,
    callback_output_ids,
    department_scope,
    district_default,
    roles_for_ids,
)
from dashboard.auth.guard import AccessRules
from dashboard.auth.web import current_principal

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."  # Dash's pages router
ENFORCED = "citylens_enforced"


def page_at(app: dash.Dash, path: str) -> dict[str, Any] | None:
    """The registered page Dash renders for ``path``, or None (Dash's "not found")."""
    try:
        page, _variables = _path_to_page(app.strip_relative_path(path))
    except Exception:  # noqa: BLE001 - a path Dash cannot route is no page
        return None
    return page or None


def page_roles(app: dash.Dash, path: str) -> tuple[str, ...] | None:
    """The roles of the page at ``path`` (() when it declares none), or None: no page."""
    page = page_at(app, path)
    return None if page is None else tuple(page.get("roles") or ())


def callback_prefixes() -> dict[str, tuple[str, ...]]:
    """Component-id prefix -> roles, from every page's ``callback_ids``."""
    return {prefix: tuple(roles) for page in dash.page_registry.values()
            for prefix, roles in (page.get("callback_ids") or {}).items()}


def callback_roles_by_key(app: dash.Dash) -> dict[str, tuple[str, ...]]:
    """The roles of every server-side callback of ``app``, by the key Dash dispatches a
    request on (computed once: the pages router, registered at the first request and
    checked by its page instead, is left out)."""
    prefixes = callback_prefixes()
    return {key: roles_for_ids(callback_output_ids(key), prefixes)
            for key in app.callback_map if key != ROUTER_OUTPUT}


def large_callbacks_by_key(app: dash.Dash) -> dict[str, int]:
    """The callbacks of ``app`` that pages let carry more than a callback's usual bytes (a
    file): ``callback_bytes`` maps a component-id prefix to bytes; a callback is allowed
    the most only when every id it writes has such a prefix (the smallest of theirs)."""
    declared = {prefix: int(size) for page in dash.page_registry.values()
                for prefix, size in (page.get("callback_bytes") or {}).items()}
    found = {}
    for key in app.callback_map:
        outputs = callback_output_ids(key)
        sizes = [max(((p, n) for p, n in declared.items() if cid.startswith(p)),
                     key=lambda pn: len(pn[0]), default=(None, 0))[1] for cid in outputs]
        if outputs and all(sizes):
            found[key] = min(sizes)
    return found


def access_rules(app: dash.Dash) -> AccessRules:
    """The guard's rules for ``app`` (call after its pages and callbacks are registered)."""
    return AccessRules(page_roles=functools.partial(page_roles, app),
                       callback_roles=callback_roles_by_key(app).get,
                       router_output=ROUTER_OUTPUT,
                       large_callbacks=large_callbacks_by_key(app))


def refusal() -> html.Div:
    """What a page shows instead of itself to a role that may not open it."""
    who = current_principal()
    text = ("This page is not available to your role." if who.signed_in
            else "Sign in to see this page.")
    return html.Div(className="page page--refused", children=[
        html.H1("Not available"), html.P(text)])


def _guarded_layout(layout: Any, roles: tuple[str, ...]) -> Callable[..., Any]:
    """``layout`` (a function or a component) run only for ``roles``."""

    def guarded(**query: Any) -> Any:
        if not allowed(current_principal(), roles):
            return refusal()
        return layout(**query) if callable(layout) else layout

    setattr(guarded, ENFORCED, True)
    return guarded


def _guarded_callback(callback: Callable[..., Any],
                      roles: tuple[str, ...]) -> Callable[..., Any]:
    """``callback`` answered only for ``roles``: 401 anonymous, 403 another role."""

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        who = current_principal()
        if not allowed(who, roles):
            abort(403 if who.signed_in else 401)
        return callback(*args, **kwargs)

    setattr(guarded, ENFORCED, True)
    return guarded


def enforce_where_read(app: dash.Dash) -> None:
    """Make every page's layout and every server callback of ``app`` check the role
    themselves (the second line behind the guard). Idempotent."""
    for page in dash.page_registry.values():
        if not getattr(page["layout"], ENFORCED, False):
            page["layout"] = _guarded_layout(page["layout"], tuple(page.get("roles") or ()))
    for key, roles in callback_roles_by_key(app).items():
        spec = app.callback_map[key]
        callback = spec.get("callback")  # clientside callbacks have none: nothing to run
        if callback is not None and not getattr(callback, ENFORCED, False):
            spec["callback"] = _guarded_callback(callback, roles)


def scoped_department(requested: str | None) -> str | None:
    """The department the current user may filter to: any for officials and admins, one of
    theirs for a department head whatever was asked (see ``department_scope``)."""
    return department_scope(current_principal(), requested or None)


def scoped_district(requested: str | None) -> str | None:
    """The district a page opens on: the asked one, else a department head's own."""
    return district_default(current_principal(), requested or None)
