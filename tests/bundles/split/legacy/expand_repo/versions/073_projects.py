"""Projects, with the old free-text owner column the later scripts retire."""
from sqlalchemy import Column, Integer, MetaData, Table, Unicode


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    Table(
        'projects', meta,
        Column('id', Integer, primary_key=True),
        Column('name', Unicode(64), nullable=False),
        Column('owner', Unicode(64), nullable=True),
    ).create()


def downgrade(migrate_engine):
    raise NotImplementedError
