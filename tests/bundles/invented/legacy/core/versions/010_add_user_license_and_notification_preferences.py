"""Users get a default license for their uploads and a master switch for notifications.

The switch is on for everybody, so existing users keep getting notified. With script 009 this
equals Alembic revision 6cc2e2d6d8bd, the last legacy version's handoff point.
"""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)
    Column('license_preference', Unicode(64)).create(users)
    Column('wants_notifications', Boolean, nullable=False, server_default=true()).create(users)


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)
    users.c.wants_notifications.drop()
    users.c.license_preference.drop()
