"""Alembic environment of Mimic.

Run from code (``mimic_addon.store.migrate.upgrade``), which passes an open
connection in ``config.attributes["connection"]``. With the ``alembic`` command
line, ``sqlalchemy.url`` is used instead. Logging is never configured here.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from mimic_addon.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url is not None and url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_on(given)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()
