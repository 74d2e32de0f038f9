"""Tagger scores keyed by content and model, and stage-2 filter decisions.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("sha256", sa.String(64), primary_key=True), sa.Column("tagger", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(200), primary_key=True),
        sa.Column("weights_sha256", sa.String(64), primary_key=True), sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("modality", sa.String(16)), sa.Column("scores", Json), sa.Column("seconds", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "decisions",
        sa.Column("clip_id", sa.String(16), sa.ForeignKey("clips.id"), primary_key=True),
        sa.Column("filter_hash", sa.String(16), primary_key=True), sa.Column("kept", sa.Boolean),
        sa.Column("reason", sa.Text), sa.Column("checks", Json),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("tags")
