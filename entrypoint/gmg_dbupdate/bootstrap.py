"""Install components at their current schema: from their models (create tables, stamp their
heads) or, for a component whose manifest says ``bootstrap = "migrations"``, by running its
Alembic history from the base; then lay the foundations of every one of them."""

from __future__ import annotations

from sqlalchemy import Connection

from .bundle import Bundle, Component
from .logs import get_logger


def install(
    connection: Connection,
    bundle: Bundle,
    components: list[Component],
    enabled: tuple[str, ...],
) -> None:
    """Create ``components`` at their current schema, inside the caller's transaction.

    Order: core first when it is built by its migrations, then every component built from its
    models, then plugins built by their migrations (a plugin's first revision may stand on
    core's revisions and its tables refer to core's)."""
    metadata = bundle.metadata(enabled)
    by_migrations = [c for c in components if c.bootstrap == "migrations"]
    first = [c for c in by_migrations if not c.plugin]
    _run_history(connection, bundle, first)
    _create(connection, bundle, metadata, [c for c in components if c.bootstrap != "migrations"])
    _run_history(connection, bundle, [c for c in by_migrations if c.plugin])
    log = get_logger()
    for component in components:
        if bundle.lay_foundations(component, connection, metadata):
            log.info("foundations.laid", component=component.name)


def _create(connection: Connection, bundle: Bundle, metadata, components: list[Component]):
    from alembic import command

    if not components:
        return
    owned = bundle.table_names()
    names = [c.name for c in components]
    tables = [t for t in metadata.sorted_tables if any(t.name in owned[n] for n in names)]
    metadata.create_all(connection, tables=tables, checkfirst=False)
    heads = bundle.branches.tips([h for n in names for h in bundle.branches.heads[n]])
    command.stamp(bundle.alembic_config(connection=connection), heads)
    for component in components:
        get_logger().info(
            "schema.bootstrapped",
            component=component.name,
            tables=sorted(owned[component.name]),
            revisions=list(bundle.branches.heads[component.name]),
            source="models",
        )


def _run_history(connection: Connection, bundle: Bundle, components: list[Component]) -> None:
    from .upgrade import upgrade

    if not components:
        return
    applied = upgrade(connection, bundle, [c.name for c in components])
    owned = bundle.table_names()
    for component in components:
        get_logger().info(
            "schema.bootstrapped",
            component=component.name,
            tables=sorted(owned[component.name]),
            revisions=list(bundle.branches.heads[component.name]),
            source="migrations",
            applied=[r for r in applied if bundle.branches.owner.get(r) == component.name],
        )
