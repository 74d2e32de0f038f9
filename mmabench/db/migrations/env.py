"""Alembic environment: the Manifest passes its open connection in config.attributes["connection"]."""

from alembic import context

from mmabench.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
