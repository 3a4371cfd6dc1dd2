"""Notes get a state; the ones already there are filled from the Python-side default."""
from sqlalchemy import Column, MetaData, Table, Unicode
from migrate import changeset  # noqa: F401  (adds Column.create)


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    notes = Table('notes', meta, autoload=True)
    Column('state', Unicode(16), default='new').create(notes, populate_default=True)


def downgrade(migrate_engine):
    raise NotImplementedError
