"""Subscriptions, notifications and briefings: CityLens comes to its users.

Events (``events``: alerts raised and cleared, written at ingest; requests past their SLA
and KPIs crossing their target, noticed by ``detect``) are matched to users'
subscriptions within what each user may see (``matching``), listed in the app
(``dashboard.queries.notifications``) and, for e-mail and webhook subscriptions, gathered
into messages (``deliveries``: one message per subscription per interval, a storm becomes
a digest; retries with backoff; the delivery log). Briefings go out per user and period
(``briefings``). ``cycle.notify_once`` runs all of it under a lease, from the one-box
loop or the task queue's scheduler.
"""
from __future__ import annotations

KINDS = ("alert_rule", "kpi", "district", "department")  # what one subscribes to
CHANNELS = ("in_app", "email", "webhook")
BRIEFING_CHOICES = ("daily", "weekly", "monthly", "off")
