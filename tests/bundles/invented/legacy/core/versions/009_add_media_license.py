"""Media entries get a license (a URL or short name; unknown for existing media).

The first half of what Alembic revision 6cc2e2d6d8bd does: script 010 adds the rest, and a
database at version 10 is handed over to Alembic as 6cc2e2d6d8bd.
"""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    media_entries = Table('core__media_entries', meta, autoload=True)
    Column('license', Unicode(64)).create(media_entries)


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    media_entries = Table('core__media_entries', meta, autoload=True)
    media_entries.c.license.drop()
