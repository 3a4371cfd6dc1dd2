"""Install components from their models: create tables, stamp their heads, lay foundations."""

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
    """Create ``components`` at their current schema, inside the caller's transaction."""
    from alembic import command

    log = get_logger()
    metadata = bundle.metadata(enabled)
    owned = bundle.table_names()
    names = [c.name for c in components]
    tables = [t for t in metadata.sorted_tables if any(t.name in owned[n] for n in names)]
    metadata.create_all(connection, tables=tables, checkfirst=False)
    heads = [h for n in names for h in bundle.branches.heads[n]]
    command.stamp(bundle.alembic_config(connection=connection), heads)
    for component in components:
        log.info(
            "schema.bootstrapped",
            component=component.name,
            tables=sorted(owned[component.name]),
            revisions=list(bundle.branches.heads[component.name]),
        )
    for component in components:
        if bundle.lay_foundations(component, connection, metadata):
            log.info("foundations.laid", component=component.name)
