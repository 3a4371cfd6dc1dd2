"""Every project's domain is its owner's, or 'default'."""
from sqlalchemy import MetaData, Table, func

from splitapp.naming import DEFAULT_DOMAIN


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    projects = Table('projects', meta, autoload=True)
    migrate_engine.execute(
        projects.update().where(projects.c.domain.is_(None))
        .values(domain=func.coalesce(projects.c.owner, DEFAULT_DOMAIN))
    )


def downgrade(migrate_engine):
    raise NotImplementedError
