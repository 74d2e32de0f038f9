"""Items superseded by a re-run (config change, class added) are marked, never deleted: runs point at them.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# frozen copies (a migration must not change when models.py does); the new column goes last so PostgreSQL can
# CREATE OR REPLACE the view under predictions_flat, which depends on it
ITEMS_FLAT_SELECT = """
SELECT i.id AS item_id, i.build, i.split, v.condition, i.prompt_modality, i.answer, i.abstain_expected,
       vc.label AS visual_class, ac.label AS audio_class, v.path AS media_path, v.sha256 AS media_sha256,
       i.variant_id, v.video_clip_id, v.audio_clip_id, i.prompt, i.options, i.template_version{extra}
FROM items i
JOIN variants v ON v.id = i.variant_id
JOIN clips vc ON vc.id = v.video_clip_id
LEFT JOIN clips ac ON ac.id = v.audio_clip_id
"""
PREDICTIONS_FLAT_SQL = """
CREATE VIEW predictions_flat AS
SELECT p.run_id, r.model, r.adapter, f.build, f.split, f.condition, f.prompt_modality, f.item_id,
       f.visual_class, f.audio_class, f.answer, f.abstain_expected, p.parsed, p.parse_status, p.correct,
       p.abstained, p.response, p.latency_ms, p.error, p.sent
FROM predictions p
JOIN runs r ON r.id = p.run_id
JOIN items_flat f ON f.item_id = p.item_id
"""


def _view(extra: str) -> None:
    select = ITEMS_FLAT_SELECT.format(extra=extra)
    if op.get_bind().dialect.name == "postgresql":
        if not extra:  # PostgreSQL cannot drop a column by CREATE OR REPLACE
            op.execute("DROP VIEW predictions_flat")
            op.execute("DROP VIEW items_flat")
            op.execute(f"CREATE VIEW items_flat AS {select}")
            return
        op.execute(f"CREATE OR REPLACE VIEW items_flat AS {select}")
    else:  # SQLite resolves views when they are used, so predictions_flat survives the swap
        op.execute("DROP VIEW items_flat")
        op.execute(f"CREATE VIEW items_flat AS {select}")


def upgrade() -> None:
    op.add_column("items", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    _view(", i.superseded_at")


def downgrade() -> None:
    _view("")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PREDICTIONS_FLAT_SQL)
    op.drop_column("items", "superseded_at")
