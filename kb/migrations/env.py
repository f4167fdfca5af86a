"""Alembic environment: migrations run on the connection kb/state.py hands in."""

from alembic import context

from kb.state import metadata

target_metadata = metadata
context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
