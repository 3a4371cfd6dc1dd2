"""A user's collection slugs become unique, as the collection URLs assumed all along.

Existing duplicates are resolved first: within one creator, the oldest collection (lowest id)
keeps the slug and every other one gets ``<slug>-<id>`` appended, which cannot collide because
ids are unique. Collections without a slug are left alone (NULLs never collide).
"""
from sqlalchemy import *
from migrate import *
from migrate.changeset.constraint import UniqueConstraint


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    collections = Table('core__collections', meta, autoload=True)

    seen = set()
    rows = migrate_engine.execute(
        select([collections.c.id, collections.c.creator, collections.c.slug])
        .where(collections.c.slug != None)
        .order_by(collections.c.id)).fetchall()
    for collection_id, creator, slug in rows:
        if (creator, slug) in seen:
            migrate_engine.execute(collections.update()
                                   .where(collections.c.id == collection_id)
                                   .values(slug=u'%s-%d' % (slug, collection_id)))
        else:
            seen.add((creator, slug))

    UniqueConstraint('creator', 'slug', table=collections,
                     name='uq_core__collections_creator_slug').create()


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    collections = Table('core__collections', meta, autoload=True)
    UniqueConstraint('creator', 'slug', table=collections,
                     name='uq_core__collections_creator_slug').drop()
