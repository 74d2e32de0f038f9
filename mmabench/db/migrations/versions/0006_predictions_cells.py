"""Each prediction carries its item's condition and prompted modality, so per-condition accuracy reads one table.

`run_accuracy` joined five tables through predictions_flat (3.4 s on SQLite over 1M predictions); with the cell
on the row and a partial index that covers the query it is one index walk. The columns are filled at insert by
db/bulk.py; a trigger fills them for any other writer (plain SQL), and existing rows are backfilled here.
Items and variants never change their condition or modality (their ids are derived from them).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# the error IS NULL rows are the scored ones; `error` itself stays out of the key (long texts, btree limits)
INDEX_COLUMNS = ["run_id", "condition", "prompt_modality", "correct", "abstained", "parse_status"]
SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS predictions_fill_cell AFTER INSERT ON predictions
WHEN NEW.condition IS NULL OR NEW.prompt_modality IS NULL
BEGIN
  UPDATE predictions SET
    condition = (SELECT v.condition FROM items i JOIN variants v ON v.id = i.variant_id WHERE i.id = NEW.item_id),
    prompt_modality = (SELECT i.prompt_modality FROM items i WHERE i.id = NEW.item_id)
  WHERE run_id = NEW.run_id AND item_id = NEW.item_id;
END
"""
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION predictions_fill_cell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT v.condition, i.prompt_modality INTO NEW.condition, NEW.prompt_modality
  FROM items i JOIN variants v ON v.id = i.variant_id WHERE i.id = NEW.item_id;
  RETURN NEW;
END $$
"""
PG_TRIGGER = """
CREATE OR REPLACE TRIGGER predictions_fill_cell BEFORE INSERT ON predictions
FOR EACH ROW WHEN (NEW.condition IS NULL OR NEW.prompt_modality IS NULL) EXECUTE FUNCTION predictions_fill_cell()
"""
BACKFILL = {
    "postgresql": "UPDATE predictions p SET condition = v.condition, prompt_modality = i.prompt_modality "
    "FROM items i JOIN variants v ON v.id = i.variant_id WHERE i.id = p.item_id",
    "sqlite": "UPDATE predictions SET "
    "condition = (SELECT v.condition FROM items i JOIN variants v ON v.id = i.variant_id "
    "WHERE i.id = predictions.item_id), "
    "prompt_modality = (SELECT i.prompt_modality FROM items i WHERE i.id = predictions.item_id)",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("predictions", sa.Column("condition", sa.String(32), nullable=True))
    op.add_column("predictions", sa.Column("prompt_modality", sa.String(16), nullable=True))
    op.execute(BACKFILL[dialect])
    op.create_index(
        "ix_predictions_cell",
        "predictions",
        INDEX_COLUMNS,
        sqlite_where=sa.text("error IS NULL"),
        postgresql_where=sa.text("error IS NULL"),
    )
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER predictions_fill_cell ON predictions")
        op.execute("DROP FUNCTION predictions_fill_cell()")
    else:
        op.execute("DROP TRIGGER predictions_fill_cell")
    op.drop_index("ix_predictions_cell", "predictions")
    op.drop_column("predictions", "prompt_modality")
    op.drop_column("predictions", "condition")
