"""Baseline: the store as CityLens 0.1.0 made it, before migrations existed.

A store of that release (tables, no ``alembic_version``) is recognised and stamped at this
revision by ``dashboard.store.schema`` instead of running it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_log_subject'), 'audit_log', ['subject'], unique=False)
    op.create_index(op.f('ix_audit_log_time'), 'audit_log', ['time'], unique=False)
    op.create_table('districts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('area_km2', sa.Float(), nullable=False),
    sa.Column('centroid_lat', sa.Double(), nullable=True),
    sa.Column('centroid_lon', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('observations',
    sa.Column('asset_pk', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=60), nullable=False),
    sa.Column('time', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('asset_pk', 'metric', 'time'),
    sqlite_with_rowid=False
    )
    op.create_table('rollups',
    sa.Column('metric', sa.String(length=120), nullable=False),
    sa.Column('grain', sa.String(length=8), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.Column('min', sa.Float(), nullable=False),
    sa.Column('max', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('metric', 'grain', 'bucket', 'district_id'),
    sqlite_with_rowid=False
    )
    op.create_table('services',
    sa.Column('service_code', sa.String(length=60), nullable=False),
    sa.Column('service_name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('group', sa.String(length=100), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('sla_hours', sa.Double(), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('service_code')
    )
    op.create_table('sources',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('districts', sa.JSON(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('assets',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=True),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('id')
    )
    op.create_index(op.f('ix_assets_district_id'), 'assets', ['district_id'], unique=False)
    op.create_index(op.f('ix_assets_domain'), 'assets', ['domain'], unique=False)
    op.create_index(op.f('ix_assets_type'), 'assets', ['type'], unique=False)
    op.create_table('citizens',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('consent', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_citizens_district_id'), 'citizens', ['district_id'], unique=False)
    op.create_table('feed_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('started', sa.DateTime(), nullable=False),
    sa.Column('finished', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('records_in', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('watermark', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_feed_runs_source_id'), 'feed_runs', ['source_id'], unique=False)
    op.create_table('notices',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_notices_starts_at'), 'notices', ['starts_at'], unique=False)
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('asset_pk', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=120), nullable=False),
    sa.Column('rule', sa.String(length=120), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=True),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['asset_pk'], ['assets.pk'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alert_raised', 'alerts', ['raised_at'], unique=False)
    op.create_index(op.f('ix_alerts_cleared_at'), 'alerts', ['cleared_at'], unique=False)
    op.create_index('ux_alert', 'alerts', ['asset_pk', 'metric', 'rule', 'raised_at'], unique=True)
    op.create_table('cases',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('citizen_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_cases_citizen_id'), 'cases', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_cases_closed_at'), 'cases', ['closed_at'], unique=False)
    op.create_index(op.f('ix_cases_department'), 'cases', ['department'], unique=False)
    op.create_index(op.f('ix_cases_opened_at'), 'cases', ['opened_at'], unique=False)
    op.create_table('participation',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('citizen_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_participation_citizen_id'), 'participation', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_participation_time'), 'participation', ['time'], unique=False)
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('received', sa.DateTime(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['feed_runs.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_quarantine_source_id'), 'quarantine', ['source_id'], unique=False)
    op.create_table('service_requests',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('service_code', sa.String(length=60), nullable=False),
    sa.Column('service_name', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_notes', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('expected_at', sa.DateTime(), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('district_id', sa.String(length=64), nullable=True),
    sa.Column('citizen_id', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_service_requests_channel'), 'service_requests', ['channel'], unique=False)
    op.create_index(op.f('ix_service_requests_citizen_id'), 'service_requests', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_service_requests_closed_at'), 'service_requests', ['closed_at'], unique=False)
    op.create_index(op.f('ix_service_requests_department'), 'service_requests', ['department'], unique=False)
    op.create_index(op.f('ix_service_requests_requested_at'), 'service_requests', ['requested_at'], unique=False)
    op.create_index(op.f('ix_service_requests_service_code'), 'service_requests', ['service_code'], unique=False)
    op.create_index(op.f('ix_service_requests_status'), 'service_requests', ['status'], unique=False)
    op.create_index('ix_sr_district_closed', 'service_requests', ['district_id', 'closed_at'], unique=False)
    op.create_index('ix_sr_district_requested', 'service_requests', ['district_id', 'requested_at'], unique=False)


def downgrade() -> None:
    op.drop_table('service_requests')
    op.drop_table('quarantine')
    op.drop_table('participation')
    op.drop_table('cases')
    op.drop_table('alerts')
    op.drop_table('notices')
    op.drop_table('feed_runs')
    op.drop_table('citizens')
    op.drop_table('assets')
    op.drop_table('users')
    op.drop_table('sources')
    op.drop_table('services')
    op.drop_table('rollups')
    op.drop_table('observations')
    op.drop_table('meta')
    op.drop_table('districts')
    op.drop_table('audit_log')
