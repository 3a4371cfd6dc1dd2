"""Collections: named, ordered sets of media entries that a user puts together."""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    # referenced tables, so the foreign keys below can be resolved
    Table('core__users', meta, autoload=True)
    Table('core__media_entries', meta, autoload=True)

    collections = Table(
        'core__collections', meta,
        Column('id', Integer, primary_key=True),
        Column('title', Unicode(255), nullable=False),
        Column('slug', Unicode(255)),
        Column('created', DateTime, nullable=False, server_default=func.now()),
        Column('description', UnicodeText),
        Column('creator', Integer, nullable=False),
        Column('num_items', Integer, nullable=False, server_default=text('0')),
        ForeignKeyConstraint(['creator'], ['core__users.id'],
                             name='fk_core__collections_creator_core__users'),
        Index('ix_core__collections_created', 'created'),
    )

    collection_items = Table(
        'core__collection_items', meta,
        Column('id', Integer, primary_key=True),
        Column('media_entry', Integer, nullable=False),
        Column('collection', Integer, nullable=False),
        Column('note', UnicodeText),
        Column('added', DateTime, nullable=False, server_default=func.now()),
        Column('position', Integer),
        ForeignKeyConstraint(['media_entry'], ['core__media_entries.id'],
                             name='fk_core__collection_items_media_entry_core__media_entries',
                             ondelete='CASCADE'),
        ForeignKeyConstraint(['collection'], ['core__collections.id'],
                             name='fk_core__collection_items_collection_core__collections',
                             ondelete='CASCADE'),
        UniqueConstraint('collection', 'media_entry',
                         name='uq_core__collection_items_collection_media_entry'),
    )

    collections.create()
    collection_items.create()


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    Table('core__collection_items', meta, autoload=True).drop()
    Table('core__collections', meta, autoload=True).drop()
