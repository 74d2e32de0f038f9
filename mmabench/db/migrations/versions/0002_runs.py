"""Evaluation runs and predictions, and the predictions_flat view.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
PREDICTIONS_FLAT_SQL = """
CREATE VIEW predictions_flat AS
SELECT p.run_id, r.model, r.adapter, f.build, f.split, f.condition, f.prompt_modality, f.item_id,
       f.visual_class, f.audio_class, f.answer, f.abstain_expected, p.parsed, p.parse_status, p.correct,
       p.abstained, p.response, p.latency_ms, p.error, p.sent
FROM predictions p
JOIN runs r ON r.id = p.run_id
JOIN items_flat f ON f.item_id = p.item_id
"""


def _ts(name):
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("model", sa.String(300)), sa.Column("adapter", sa.String(64)), sa.Column("options", Json),
        sa.Column("build", sa.String(200)), sa.Column("split", sa.String(32)), sa.Column("item_limit", sa.Integer),
        sa.Column("template_version", sa.Integer), sa.Column("package_version", sa.String(32)),
        sa.Column("seed", sa.Integer), sa.Column("status", sa.String(16)), sa.Column("counts", Json),
        sa.Column("timings", Json), _ts("created_at"), _ts("updated_at"),
    )
    op.create_table(
        "predictions",
        sa.Column("run_id", sa.String(16), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("item_id", sa.String(16), sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("fingerprint", sa.String(64)), sa.Column("response", sa.Text), sa.Column("parsed", sa.String(200)),
        sa.Column("parse_status", sa.String(16)), sa.Column("correct", sa.Boolean), sa.Column("abstained", sa.Boolean),
        sa.Column("latency_ms", sa.Float), sa.Column("tokens_in", sa.Integer), sa.Column("tokens_out", sa.Integer),
        sa.Column("sent", Json), sa.Column("cached_from", sa.String(16)), sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer), _ts("created_at"),
    )
    op.create_index("ix_predictions_fingerprint", "predictions", ["fingerprint"])
    op.execute(PREDICTIONS_FLAT_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW predictions_flat")
    op.drop_table("predictions")
    op.drop_table("runs")
