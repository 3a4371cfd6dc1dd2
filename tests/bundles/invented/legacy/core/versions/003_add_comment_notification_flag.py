"""Users can opt out of mails about comments on their media; everybody starts opted in."""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)

    Column('wants_comment_notification', Boolean, nullable=False,
           server_default=true()).create(users)


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)

    users.c.wants_comment_notification.drop()
