"""The owner column is gone: its data lives in domain now."""
from sqlalchemy import MetaData, Table
from migrate import changeset  # noqa: F401


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    projects = Table('projects', meta, autoload=True)
    projects.c.owner.drop()


def downgrade(migrate_engine):
    raise NotImplementedError
