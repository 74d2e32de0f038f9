"""LoRA training runs.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "train_runs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("base_model", sa.String(500)), sa.Column("base_weights", sa.String(64)),
        sa.Column("build", sa.String(200)), sa.Column("split", sa.String(32)), sa.Column("trainer", sa.String(32)),
        sa.Column("config", Json), sa.Column("items", sa.Integer), sa.Column("steps", sa.Integer),
        sa.Column("final_loss", sa.Float), sa.Column("losses", Json), sa.Column("adapter_path", sa.Text),
        sa.Column("adapter_sha256", sa.String(64)), sa.Column("versions", Json), sa.Column("status", sa.String(16)),
        sa.Column("seconds", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("train_runs")
