"""Briefings and subscriptions: users get an e-mail address, a language and a briefing
frequency; ``subscriptions`` (what a user asked to hear about, and how);
``notification_events`` (what is worth telling, once each); ``notifications`` (a user's
in-app list); ``deliveries`` and ``delivery_items`` (messages by e-mail or webhook, their
attempts and errors: the delivery log); ``kpi_states`` (a KPI's standing against its
target, so a crossing is told once); ``leases`` (one notifier at work at a time); and an
index on requests' SLA due time.

Revision ID: 0016_subscriptions
Revises: 0015_request_cells
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_subscriptions"
down_revision = "0015_request_cells"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=False,
                                   server_default="en"))
        batch.add_column(sa.Column("briefing", sa.String(length=10), nullable=False,
                                   server_default="weekly"))
    op.create_index("ix_sr_expected", "service_requests", ["expected_at"])
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=100),
                  sa.ForeignKey("users.username", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("throttle_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_subscriptions_username", "subscriptions", ["username"])
    op.create_index("ux_subscription", "subscriptions",
                    ["username", "kind", "target", "district_id", "channel"], unique=True)
    op.create_table(
        "notification_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=200), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("matched_at", sa.DateTime(), nullable=True),
        sa.Column("rule", sa.String(length=120), nullable=True),
        sa.Column("kpi", sa.String(length=100), nullable=True),
        sa.Column("district_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("domain", sa.String(length=40), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_notification_events_matched_at", "notification_events",
                    ["matched_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=100),
                  sa.ForeignKey("users.username", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.Integer(),
                  sa.ForeignKey("notification_events.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ux_notification", "notifications", ["username", "event_id"],
                    unique=True)
    op.create_index("ix_notification_user_time", "notifications", ["username", "created_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("destination", sa.String(length=320), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True, unique=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_deliveries_username", "deliveries", ["username"])
    op.create_index("ix_deliveries_subscription_id", "deliveries", ["subscription_id"])
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.create_index("ix_delivery_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Integer(),
                  sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.Integer(),
                  sa.ForeignKey("notification_events.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("delivery_id", sa.Integer(),
                  sa.ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ux_delivery_item", "delivery_items", ["subscription_id", "event_id"],
                    unique=True)
    op.create_index("ix_delivery_item_waiting", "delivery_items",
                    ["subscription_id", "delivery_id"])
    op.create_table(
        "kpi_states",
        sa.Column("kpi", sa.String(length=100), primary_key=True),
        sa.Column("district_id", sa.String(length=64), primary_key=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=60), primary_key=True),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("kpi_states")
    op.drop_table("delivery_items")
    op.drop_table("deliveries")
    op.drop_table("notifications")
    op.drop_table("notification_events")
    op.drop_table("subscriptions")
    op.drop_index("ix_sr_expected", table_name="service_requests")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("briefing")
        batch.drop_column("language")
        batch.drop_column("email")
