"""Projects get a domain (the data migration fills it in)."""
from sqlalchemy import Column, MetaData, Table, Unicode
from migrate import changeset  # noqa: F401


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    projects = Table('projects', meta, autoload=True)
    Column('domain', Unicode(64), nullable=True).create(projects)


def downgrade(migrate_engine):
    raise NotImplementedError
