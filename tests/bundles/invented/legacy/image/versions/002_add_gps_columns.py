"""Images get their GPS position in columns of their own, read out of the stored EXIF tags.

``exif_all`` is a JSON object; a ``GPS`` member (an object with ``longitude``, ``latitude``,
``altitude`` and ``direction``, in degrees and metres) fills the new columns. Values that are
missing or not numbers stay NULL. A database at this version is handed over to Alembic as the
image plugin's first revision, 7d7dd81902b6.
"""
import json

from sqlalchemy import *
from migrate import *

GPS_FIELDS = ('longitude', 'latitude', 'altitude', 'direction')


def _gps_of(raw):
    try:
        exif = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    gps = exif.get('GPS') if isinstance(exif, dict) else None
    if not isinstance(gps, dict):
        return {}
    return dict(('gps_' + name, float(gps[name])) for name in GPS_FIELDS
                if isinstance(gps.get(name), (int, float)) and not isinstance(gps[name], bool))


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    mediadata = Table('image__mediadata', meta, autoload=True)
    for name in GPS_FIELDS:
        Column('gps_' + name, Float).create(mediadata)

    rows = migrate_engine.execute(
        select([mediadata.c.media_entry, mediadata.c.exif_all])
        .where(mediadata.c.exif_all != None)).fetchall()
    for media_entry, raw in rows:
        values = _gps_of(raw)
        if values:
            migrate_engine.execute(mediadata.update()
                                   .where(mediadata.c.media_entry == media_entry)
                                   .values(**values))


def downgrade(migrate_engine):
    # The EXIF tags still hold the position: nothing is lost.
    meta = MetaData(bind=migrate_engine)
    mediadata = Table('image__mediadata', meta, autoload=True)
    for name in reversed(GPS_FIELDS):
        mediadata.c['gps_' + name].drop()
