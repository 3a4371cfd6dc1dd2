"""Initial tables: users, media entries, tags and comments.

Media files are kept as a JSON object on the entry (``media_files``: keyname -> path) until
script 006 moves them into a table of their own.
"""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)

    users = Table(
        'core__users', meta,
        Column('id', Integer, primary_key=True),
        Column('username', Unicode(30), nullable=False),
        Column('email', Unicode(100), nullable=False),
        Column('pw_hash', Unicode(255)),
        Column('created', DateTime, nullable=False, server_default=func.now()),
        Column('email_verified', Boolean, nullable=False, server_default=false()),
        Column('status', Unicode(32), nullable=False,
               server_default=u'needs_email_verification'),
        Column('is_admin', Boolean, nullable=False, server_default=false()),
        UniqueConstraint('username', name='uq_core__users_username'),
    )

    media_entries = Table(
        'core__media_entries', meta,
        Column('id', Integer, primary_key=True),
        Column('uploader', Integer, nullable=False),
        Column('title', Unicode(100), nullable=False),
        Column('slug', Unicode(100)),
        Column('created', DateTime, nullable=False, server_default=func.now()),
        Column('description', UnicodeText),
        Column('media_type', Unicode(128), nullable=False),
        Column('state', Unicode(32), nullable=False, server_default=u'unprocessed'),
        Column('fail_error', UnicodeText),
        Column('fail_metadata', UnicodeText),
        Column('queued_media_file', UnicodeText),
        Column('queued_task_id', Unicode(255)),
        Column('media_files', UnicodeText),
        ForeignKeyConstraint(['uploader'], ['core__users.id'],
                             name='fk_core__media_entries_uploader_core__users'),
        UniqueConstraint('uploader', 'slug', name='uq_core__media_entries_uploader_slug'),
        Index('ix_core__media_entries_created', 'created'),
        Index('ix_core__media_entries_uploader', 'uploader'),
    )

    tags = Table(
        'core__tags', meta,
        Column('id', Integer, primary_key=True),
        Column('slug', Unicode(255), nullable=False),
        UniqueConstraint('slug', name='uq_core__tags_slug'),
    )

    media_tags = Table(
        'core__media_tags', meta,
        Column('id', Integer, primary_key=True),
        Column('media_entry', Integer, nullable=False),
        Column('tag', Integer, nullable=False),
        Column('name', Unicode(255)),
        ForeignKeyConstraint(['media_entry'], ['core__media_entries.id'],
                             name='fk_core__media_tags_media_entry_core__media_entries',
                             ondelete='CASCADE'),
        ForeignKeyConstraint(['tag'], ['core__tags.id'],
                             name='fk_core__media_tags_tag_core__tags'),
        UniqueConstraint('tag', 'media_entry', name='uq_core__media_tags_tag_media_entry'),
        Index('ix_core__media_tags_media_entry', 'media_entry'),
    )

    media_comments = Table(
        'core__media_comments', meta,
        Column('id', Integer, primary_key=True),
        Column('media_entry', Integer, nullable=False),
        Column('author', Integer, nullable=False),
        Column('created', DateTime, nullable=False, server_default=func.now()),
        Column('body', UnicodeText, nullable=False),
        ForeignKeyConstraint(['media_entry'], ['core__media_entries.id'],
                             name='fk_core__media_comments_media_entry_core__media_entries',
                             ondelete='CASCADE'),
        ForeignKeyConstraint(['author'], ['core__users.id'],
                             name='fk_core__media_comments_author_core__users'),
        Index('ix_core__media_comments_media_entry', 'media_entry'),
    )

    for table in (users, media_entries, tags, media_tags, media_comments):
        table.create()


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    for name in ('core__media_comments', 'core__media_tags', 'core__tags',
                 'core__media_entries', 'core__users'):
        Table(name, meta, autoload=True).drop()
