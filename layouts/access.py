"""The access rules the pages declare, gathered for the guard (``dashboard.auth.web``).

Every page registers ``roles`` (who may open it) and ``callback_ids`` (component-id prefix ->
roles that may have its callbacks answered) with ``dash.register_page``. A page that
declares no roles is open to nobody; a component id no page claims is written by nobody.
"""
from __future__ import annotations

import dash

from dashboard.auth.access import department_scope, district_default, match_path
from dashboard.auth.web import AccessRules, current_principal


def _page_rules() -> dict[str, tuple[str, ...]]:
    """Path template -> the roles its page declares (() when it declares none)."""
    found = {}
    for page in dash.page_registry.values():
        template = str(page.get("path_template") or page.get("path") or "")
        if template:
            found[template] = tuple(page.get("roles") or ())
    return found


def page_roles(path: str) -> tuple[str, ...] | None:
    """The roles of the registered page at ``path`` (() when it declares none), or None
    when no page is there (Dash shows "not found")."""
    pages = _page_rules()
    template = match_path(path, pages)
    return None if template is None else pages[template]


def callback_roles() -> dict[str, tuple[str, ...]]:
    """Component-id prefix -> roles, from every page's ``callback_ids``."""
    return {prefix: tuple(roles) for page in dash.page_registry.values()
            for prefix, roles in (page.get("callback_ids") or {}).items()}


def access_rules() -> AccessRules:
    """The guard's rules for the pages registered now (call after the pages are imported)."""
    return AccessRules(page_roles=page_roles, callback_roles=callback_roles())


def scoped_department(requested: str | None) -> str | None:
    """The department the current user may filter to: any for officials and admins, one of
    theirs for a department head whatever was asked (see ``department_scope``)."""
    return department_scope(current_principal(), requested or None)


def scoped_district(requested: str | None) -> str | None:
    """The district a page opens on: the asked one, else a department head's own."""
    return district_default(current_principal(), requested or None)
