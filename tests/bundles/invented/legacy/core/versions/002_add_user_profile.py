"""Users get a homepage URL and a free-text bio (both optional)."""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)

    Column('url', Unicode(255)).create(users)
    Column('bio', UnicodeText).create(users)


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)

    users.c.bio.drop()
    users.c.url.drop()
