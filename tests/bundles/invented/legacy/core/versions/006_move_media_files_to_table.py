"""Media files move from a JSON column on the entry into rows of their own.

``core__media_entries.media_files`` held a JSON object mapping a file's keyname (``original``,
``thumb``, ...) to its path. Keynames become rows of ``core__file_keynames``, seeded with the
three every media type produces (in this order, so their ids are 1, 2, 3 everywhere); other
keynames found in the data are added after them in alphabetical order. Each file becomes a
``core__media_files`` row, then the JSON column is dropped. Entries whose JSON cannot be read
keep no files (there was nothing usable to keep).
"""
import json

from sqlalchemy import *
from migrate import *

STANDARD_KEYNAMES = (u'original', u'thumb', u'medium')


def _files_of(raw):
    try:
        files = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(files, dict):
        return {}
    return dict((key, path) for key, path in files.items()
                if isinstance(key, str) and isinstance(path, str) and key)


def upgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    media_entries = Table('core__media_entries', meta, autoload=True)

    file_keynames = Table(
        'core__file_keynames', meta,
        Column('id', Integer, primary_key=True),
        Column('name', Unicode(32), nullable=False),
        UniqueConstraint('name', name='uq_core__file_keynames_name'),
    )
    media_files = Table(
        'core__media_files', meta,
        Column('media_entry', Integer, primary_key=True, autoincrement=False),
        Column('name_id', Integer, primary_key=True, autoincrement=False),
        Column('file_path', UnicodeText),
        ForeignKeyConstraint(['media_entry'], ['core__media_entries.id'],
                             name='fk_core__media_files_media_entry_core__media_entries',
                             ondelete='CASCADE'),
        ForeignKeyConstraint(['name_id'], ['core__file_keynames.id'],
                             name='fk_core__media_files_name_id_core__file_keynames'),
    )
    file_keynames.create()
    media_files.create()

    files_by_entry = {}
    for entry_id, raw in migrate_engine.execute(
            select([media_entries.c.id, media_entries.c.media_files])
            .order_by(media_entries.c.id)):
        files_by_entry[entry_id] = _files_of(raw)

    found = set()
    for files in files_by_entry.values():
        found.update(files)
    keynames = list(STANDARD_KEYNAMES) + sorted(found - set(STANDARD_KEYNAMES))
    for name in keynames:
        migrate_engine.execute(file_keynames.insert().values(name=name))
    ids = dict((row.name, row.id) for row in migrate_engine.execute(file_keynames.select()))

    for entry_id, files in sorted(files_by_entry.items()):
        for name, path in sorted(files.items()):
            migrate_engine.execute(media_files.insert().values(
                media_entry=entry_id, name_id=ids[name], file_path=path))

    media_entries.c.media_files.drop()


def downgrade(migrate_engine):
    meta = MetaData(bind=migrate_engine)
    media_entries = Table('core__media_entries', meta, autoload=True)
    file_keynames = Table('core__file_keynames', meta, autoload=True)
    media_files = Table('core__media_files', meta, autoload=True)

    Column('media_files', UnicodeText).create(media_entries)
    files_by_entry = {}
    query = select([media_files.c.media_entry, file_keynames.c.name, media_files.c.file_path]) \
        .select_from(media_files.join(file_keynames))
    for entry_id, name, path in migrate_engine.execute(query):
        files_by_entry.setdefault(entry_id, {})[name] = path
    for entry_id, files in files_by_entry.items():
        migrate_engine.execute(media_entries.update()
                               .where(media_entries.c.id == entry_id)
                               .values(media_files=json.dumps(files, sort_keys=True)))

    media_files.drop()
    file_keynames.drop()
