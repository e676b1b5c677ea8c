"""Who may see what: users and their roles, password sign-in with lock-out, the audit log
of reads of personal records, and the access rules that pages, callbacks and the API
declare (default deny). No Dash here; the web layer (``app.py``, ``layouts/``) uses it.

Roles (DESIGN.md, "Roles"): ``public`` (no sign-in), ``department_head`` (bound to
departments and districts), ``official`` (mayor, decision-makers), ``admin``.
"""
from __future__ import annotations

PUBLIC, DEPARTMENT_HEAD, OFFICIAL, ADMIN = "public", "department_head", "official", "admin"
ROLES = (PUBLIC, DEPARTMENT_HEAD, OFFICIAL, ADMIN)
SIGNED_IN = (DEPARTMENT_HEAD, OFFICIAL, ADMIN)  # every role that signs in
