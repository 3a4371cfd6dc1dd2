"""Per-entry data of image media: pixel size and the raw EXIF tags (a JSON object)."""
from sqlalchemy import *
from migrate import *


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    Table('core__media_entries', meta, autoload=True)

    mediadata = Table(
        'image__mediadata', meta,
        Column('media_entry', Integer, primary_key=True, autoincrement=False),
        Column('width', Integer),
        Column('height', Integer),
        Column('exif_all', UnicodeText),
        ForeignKeyConstraint(['media_entry'], ['core__media_entries.id'],
                             name='fk_image__mediadata_media_entry_core__media_entries',
                             ondelete='CASCADE'),
    )
    mediadata.create()


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    Table('image__mediadata', meta, autoload=True).drop()
