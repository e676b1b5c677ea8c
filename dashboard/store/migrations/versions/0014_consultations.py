"""Consultations: ``surveys`` (questions in each language, a district or the whole city,
open and close moments), ``survey_answers`` (one per device: a keyed hash of a random
cookie, never a person; choices and numbers) and ``survey_texts`` (free-text answers,
private until staff approve them).

Revision ID: 0014_consultations
Revises: 0013_commitments
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_consultations"
down_revision = "0013_commitments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(length=100), primary_key=True),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("intro", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("district_id", sa.String(length=64), sa.ForeignKey("districts.id"),
                  nullable=True),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_surveys_opens_at", "surveys", ["opens_at"])
    op.create_index("ix_surveys_closes_at", "surveys", ["closes_at"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("survey_id", sa.String(length=100),
                  sa.ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
    )
    op.create_index("ux_survey_device", "survey_answers", ["survey_id", "device"],
                    unique=True)
    op.create_table(
        "survey_texts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("survey_id", sa.String(length=100),
                  sa.ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer_id", sa.Integer(),
                  sa.ForeignKey("survey_answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_id", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("moderation", sa.String(length=10), nullable=False),
    )
    op.create_index("ix_survey_text_state", "survey_texts", ["survey_id", "moderation"])


def downgrade() -> None:
    op.drop_table("survey_texts")
    op.drop_table("survey_answers")
    op.drop_table("surveys")
