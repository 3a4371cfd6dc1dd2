"""A notes table, with one note in it."""
from sqlalchemy import Column, Integer, MetaData, Table, Unicode


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    notes = Table(
        'notes', meta,
        Column('id', Integer, primary_key=True),
        Column('body', Unicode(200), nullable=False),
    )
    notes.create()
    migrate_engine.execute(notes.insert().values(body='first'))


def downgrade(migrate_engine):
    raise NotImplementedError
