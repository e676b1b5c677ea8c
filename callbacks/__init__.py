"""Callbacks, one module per page, registered at import with ``@dash.callback``.

They are thin: read the inputs, call ``dashboard.queries``, shape the output with the
builders of ``layouts``. ``app.create_app`` imports each module explicitly.
"""
from __future__ import annotations
