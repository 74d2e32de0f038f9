"""Each prediction also carries what it was scored against, so `mmabench report` reads one index.

The report's per-class accuracy groups by the item's answer and its av_swap rows count answers that name the
video's class or the audio's class; read through predictions_flat (five tables) that cost seconds per 100k
predictions. Now a row carries the item's `answer` and two flags, `follows_video` / `follows_audio` (its parsed
answer equals the label of the variant's video / audio clip, NULL-safe as Python's `==`), computed when the row
is written, as `correct` is: a later relabel leaves the scores of finished runs as they were scored. The cell
index grows those columns (its leading columns stay, so run_accuracy keeps its plan) and a small partial index
counts the error rows per cell. db/bulk.py fills the columns; the trigger from 0006 now fills them too.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_INDEX = ["run_id", "condition", "prompt_modality", "correct", "abstained", "parse_status"]
INDEX = ["run_id", "condition", "prompt_modality", "answer", "correct", "abstained", "parse_status",
         "follows_video", "follows_audio"]  # fmt: skip
ERROR_INDEX = ["run_id", "condition", "prompt_modality"]


def same(a: str, b: str) -> str:
    """NULL-safe equality in both dialects (None == None in Python)."""
    return f"COALESCE({a} = {b}, {a} IS NULL AND {b} IS NULL)"


# the row's item, variant and clips (frozen copies: a migration must not change when bulk.py does)
SOURCE = (
    "FROM items i JOIN variants v ON v.id = i.variant_id JOIN clips vc ON vc.id = v.video_clip_id "
    "LEFT JOIN clips ac ON ac.id = v.audio_clip_id"
)
SQLITE_TRIGGER = f"""
CREATE TRIGGER predictions_fill_cell AFTER INSERT ON predictions
WHEN NEW.condition IS NULL OR NEW.prompt_modality IS NULL OR NEW.answer IS NULL
BEGIN
  UPDATE predictions SET (condition, prompt_modality, answer, follows_video, follows_audio) = (
    SELECT v.condition, i.prompt_modality, i.answer, {same("NEW.parsed", "vc.label")}, {same("NEW.parsed", "ac.label")}
    {SOURCE} WHERE i.id = NEW.item_id)
  WHERE run_id = NEW.run_id AND item_id = NEW.item_id;
END
"""
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION predictions_fill_cell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT v.condition, i.prompt_modality, i.answer, {same("NEW.parsed", "vc.label")}, {same("NEW.parsed", "ac.label")}
  INTO NEW.condition, NEW.prompt_modality, NEW.answer, NEW.follows_video, NEW.follows_audio
  {SOURCE} WHERE i.id = NEW.item_id;
  RETURN NEW;
END $$
"""
PG_TRIGGER = """
CREATE OR REPLACE TRIGGER predictions_fill_cell BEFORE INSERT ON predictions FOR EACH ROW
WHEN (NEW.condition IS NULL OR NEW.prompt_modality IS NULL OR NEW.answer IS NULL) EXECUTE FUNCTION predictions_fill_cell()
"""
BACKFILL = {
    "postgresql": "UPDATE predictions p SET answer = i.answer, "
    f"follows_video = {same('p.parsed', 'vc.label')}, follows_audio = {same('p.parsed', 'ac.label')} "
    f"{SOURCE} WHERE i.id = p.item_id",
    "sqlite": "UPDATE predictions SET (answer, follows_video, follows_audio) = ("
    f"SELECT i.answer, {same('predictions.parsed', 'vc.label')}, {same('predictions.parsed', 'ac.label')} "
    f"{SOURCE} WHERE i.id = predictions.item_id)",
}
# 0006's trigger, for the downgrade
OLD_SQLITE_TRIGGER = """
CREATE TRIGGER predictions_fill_cell AFTER INSERT ON predictions
WHEN NEW.condition IS NULL OR NEW.prompt_modality IS NULL
BEGIN
  UPDATE predictions SET
    condition = (SELECT v.condition FROM items i JOIN variants v ON v.id = i.variant_id WHERE i.id = NEW.item_id),
    prompt_modality = (SELECT i.prompt_modality FROM items i WHERE i.id = NEW.item_id)
  WHERE run_id = NEW.run_id AND item_id = NEW.item_id;
END
"""
OLD_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION predictions_fill_cell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT v.condition, i.prompt_modality INTO NEW.condition, NEW.prompt_modality
  FROM items i JOIN variants v ON v.id = i.variant_id WHERE i.id = NEW.item_id;
  RETURN NEW;
END $$
"""
OLD_PG_TRIGGER = """
CREATE OR REPLACE TRIGGER predictions_fill_cell BEFORE INSERT ON predictions
FOR EACH ROW WHEN (NEW.condition IS NULL OR NEW.prompt_modality IS NULL) EXECUTE FUNCTION predictions_fill_cell()
"""


def _index(columns: list[str]) -> None:
    op.create_index(
        "ix_predictions_cell", "predictions", columns,
        sqlite_where=sa.text("error IS NULL"), postgresql_where=sa.text("error IS NULL"),
    )  # fmt: skip


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("predictions", sa.Column("answer", sa.String(200), nullable=True))
    op.add_column("predictions", sa.Column("follows_video", sa.Boolean(), nullable=True))
    op.add_column("predictions", sa.Column("follows_audio", sa.Boolean(), nullable=True))
    op.execute(BACKFILL[dialect])
    op.drop_index("ix_predictions_cell", "predictions")
    _index(INDEX)
    op.create_index(
        "ix_predictions_errors", "predictions", ERROR_INDEX,
        sqlite_where=sa.text("error IS NOT NULL"), postgresql_where=sa.text("error IS NOT NULL"),
    )  # fmt: skip
    if dialect == "postgresql":
        op.execute("DROP TRIGGER predictions_fill_cell ON predictions")
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute("DROP TRIGGER predictions_fill_cell")
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER predictions_fill_cell ON predictions")
        op.execute(OLD_PG_FUNCTION)
        op.execute(OLD_PG_TRIGGER)
    else:
        op.execute("DROP TRIGGER predictions_fill_cell")
        op.execute(OLD_SQLITE_TRIGGER)
    op.drop_index("ix_predictions_errors", "predictions")
    op.drop_index("ix_predictions_cell", "predictions")
    _index(OLD_INDEX)
    op.drop_column("predictions", "follows_audio")
    op.drop_column("predictions", "follows_video")
    op.drop_column("predictions", "answer")
