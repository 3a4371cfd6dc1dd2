"""``core__media_comments.body`` is renamed ``content`` (the name the federation code uses)."""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    comments = Table('core__media_comments', meta, autoload=True)
    comments.c.body.alter(name='content')


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    comments = Table('core__media_comments', meta, autoload=True)
    comments.c.content.alter(name='body')
