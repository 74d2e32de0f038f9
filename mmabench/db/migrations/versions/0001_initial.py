"""Initial manifest: builds, clips, variants, items and the items_flat view.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
ITEMS_FLAT_SQL = """
CREATE VIEW items_flat AS
SELECT i.id AS item_id, i.build, i.split, v.condition, i.prompt_modality, i.answer, i.abstain_expected,
       vc.label AS visual_class, ac.label AS audio_class, v.path AS media_path, v.sha256 AS media_sha256,
       i.variant_id, v.video_clip_id, v.audio_clip_id, i.prompt, i.options, i.template_version
FROM items i
JOIN variants v ON v.id = i.variant_id
JOIN clips vc ON vc.id = v.video_clip_id
LEFT JOIN clips ac ON ac.id = v.audio_clip_id
"""  # frozen copy: a migration must not change when models.py does


def _created():
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "builds",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("config", Json), sa.Column("config_hash", sa.String(64)), sa.Column("seed", sa.Integer),
        sa.Column("versions", Json), sa.Column("timings", Json), _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(64)), sa.Column("source_ref", sa.Text),
        sa.Column("start", sa.Float), sa.Column("end", sa.Float),
        sa.Column("label", sa.String(200)), sa.Column("label_mid", sa.String(64)),
        sa.Column("status", sa.String(32)), sa.Column("error", sa.Text),
        sa.Column("path", sa.Text), sa.Column("sha256", sa.String(64)), sa.Column("bytes", sa.Integer),
        sa.Column("duration", sa.Float), sa.Column("fps", sa.Float),
        sa.Column("width", sa.Integer), sa.Column("height", sa.Integer),
        sa.Column("video_codec", sa.String(32)), sa.Column("audio_codec", sa.String(32)),
        sa.Column("sample_rate", sa.Integer), sa.Column("provenance", Json),
        sa.Column("attempts", sa.Integer), _created(),
    )
    op.create_index("ix_clips_label", "clips", ["label"])
    op.create_index("ix_clips_status", "clips", ["status"])
    op.create_index("ix_clips_source", "clips", ["source", "source_ref"])
    op.create_table(
        "variants",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("condition", sa.String(32)), sa.Column("op", sa.String(64)), sa.Column("op_version", sa.Integer),
        sa.Column("video_clip_id", sa.String(16), sa.ForeignKey("clips.id")),
        sa.Column("audio_clip_id", sa.String(16), sa.ForeignKey("clips.id")),
        sa.Column("recipe", Json), sa.Column("tool_versions", Json),
        sa.Column("path", sa.Text), sa.Column("sha256", sa.String(64)), sa.Column("bytes", sa.Integer), _created(),
    )
    op.create_index("ix_variants_condition", "variants", ["condition"])
    op.create_index("ix_variants_video", "variants", ["video_clip_id"])
    op.create_table(
        "items",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("build", sa.String(200), sa.ForeignKey("builds.name")),
        sa.Column("variant_id", sa.String(16), sa.ForeignKey("variants.id")),
        sa.Column("split", sa.String(32)), sa.Column("condition", sa.String(32)),
        sa.Column("prompt_modality", sa.String(16)), sa.Column("prompt", sa.Text), sa.Column("options", Json),
        sa.Column("answer", sa.String(200)), sa.Column("abstain_expected", sa.Boolean),
        sa.Column("template_version", sa.Integer), _created(),
    )
    op.create_index("ix_items_lookup", "items", ["build", "split", "condition", "prompt_modality"])
    op.create_index("ix_items_variant", "items", ["variant_id"])
    op.execute(ITEMS_FLAT_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW items_flat")
    for t in ("items", "variants", "clips", "builds"):
        op.drop_table(t)
