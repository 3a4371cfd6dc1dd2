"""Alembic environment shared by every schema bundle.

The engine hands over an open connection (already inside its transaction) and the target
metadata through ``config.attributes``; ``gmg alembic`` leaves the connection out, so one is
made here from the configured URL.
"""

from alembic import context

config = context.config
target_metadata = config.attributes.get("target_metadata")


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.get_main_option("version_table") or "alembic_version",
        version_table_schema=config.get_main_option("version_table_schema"),
        # autogenerate writes batch operations where the backend cannot ALTER in place
        render_as_batch=config.attributes.get("render_as_batch", False),
        compare_type=True,
        on_version_apply=config.attributes.get("on_version_apply"),
        transaction_per_migration=config.attributes.get("transaction_per_migration", False),
    )
    if connection.in_transaction():
        # The engine's transaction (issue 15). Alembic leaves a transaction it did not begin
        # alone, and its autocommit_block() then fails (it asserts it began the transaction it
        # must commit). Handing it ours lets the block commit it (the engine's commit hook
        # confirms the fence first, ddl.Guard) and begin the next one, which the engine commits.
        context.get_context()._transaction = connection.get_transaction()
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        version_table=config.get_main_option("version_table") or "alembic_version",
        version_table_schema=config.get_main_option("version_table_schema"),
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    run_migrations(connection)
else:
    engine = config.attributes["backend"].engine()
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()
