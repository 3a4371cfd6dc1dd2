"""Make room for long addresses and titles, and index the email column.

E-mail addresses may be 254 characters long (RFC 5321); titles and slugs of 100 characters
were too short for imported media. Password resets look users up by e-mail, hence the index.
"""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    users = Table('core__users', meta, autoload=True)
    users.c.email.alter(type=Unicode(254))
    Index('ix_core__users_email', users.c.email).create()

    media_entries = Table('core__media_entries', meta, autoload=True)
    media_entries.c.title.alter(type=Unicode(255))
    media_entries.c.slug.alter(type=Unicode(255))


def downgrade(migrate_engine):
    # PostgreSQL refuses values longer than the old limits instead of truncating them.
    meta = MetaData(bind=migrate_engine)
    media_entries = Table('core__media_entries', meta, autoload=True)
    media_entries.c.slug.alter(type=Unicode(100))
    media_entries.c.title.alter(type=Unicode(100))

    users = Table('core__users', meta, autoload=True)
    # after the alter: on SQLite it rebuilds the table with every index it knows of
    users.c.email.alter(type=Unicode(100))
    Index('ix_core__users_email', users.c.email).drop()
