"""MediaGoblin core (registry name ``__main__``): legacy steps 27-44, written for this bundle.

Every MediaGoblin database from 0.8.0 on is at 26 or later (0.8.0 and 0.8.1 both ship 26), so
this module starts at 27. Each function gets a SQLAlchemy 1.4 Connection inside the transaction
that also moves the registry row. The number and the function name are MediaGoblin's; the
effect is MediaGoblin's, plus what its own steps left out, so that the result at 44 is exactly
a fresh 0.9.0 install: PostgreSQL constraint names as a fresh install has them, NOT NULL where a
fresh install has it (users.updated, media_entries.updated, activities.object_id; clients.id on
SQLite), notifications.object_id left nullable, and the UNIQUEs on
core__generic_model_reference(model_type, obj_pk) and core__collection_items(collection,
object_id) plus the index on core__collection_items(object_id).
"""

from __future__ import annotations

import datetime
import secrets
import string

import sqlalchemy as sa
from _ops import (
    Add,
    Change,
    alter,
    create_table,
    drop_key_sequences,
    drop_table,
    has_table,
    model_reference,
    reflect,
)

LOWEST = 26  # the oldest registry number a database may be at (MediaGoblin 0.8.0 and 0.8.1)
TOO_OLD_HINT = (
    "upgrade it with MediaGoblin 0.8.1 first (its dbupdate brings __main__ to 26), then run this job"
)

GMR = "core__generic_model_reference"
GMR_ID = f"{GMR}.id"

# what core__activity_intermediators.type names -> the table of that object
INTERMEDIATOR_TABLES = {
    "user": "core__users",
    "media": "core__media_entries",
    "comment": "core__media_comments",
    "collection": "core__collections",
}


def _row_exists(conn, table: str, pk) -> bool:
    if pk is None or not has_table(conn, table):
        return False
    t = reflect(conn, table)
    return conn.execute(sa.select(t.c.id).where(t.c.id == pk)).first() is not None


def create_generic_model_reference(conn):
    md = sa.MetaData()
    create_table(
        conn,
        sa.Table(
            GMR,
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("obj_pk", sa.Integer, nullable=False),
            sa.Column("model_type", sa.Unicode, nullable=False),
            sa.UniqueConstraint("model_type", "obj_pk"),
        ),
    )


def add_foreign_key_fields(conn):
    alter(
        conn,
        "core__activities",
        Change(add=[Add("temp_object", sa.Integer, fk=GMR_ID), Add("temp_target", sa.Integer, fk=GMR_ID)]),
    )


def _intermediated(conn, intermediator_id):
    """The (table, id) an activity intermediator stands for, or None if the object is gone."""
    if intermediator_id is None:
        return None
    ai = reflect(conn, "core__activity_intermediators")
    kind = conn.execute(sa.select(ai.c.type).where(ai.c.id == intermediator_id)).scalar()
    table = INTERMEDIATOR_TABLES.get(kind)
    if table is None:
        return None
    t = reflect(conn, table)
    pk = conn.execute(sa.select(t.c.id).where(t.c.activity == intermediator_id)).scalar()
    return None if pk is None else (table, pk)


def migrate_data_foreign_keys(conn):
    activities = reflect(conn, "core__activities")
    for row in conn.execute(sa.select(activities.c.id, activities.c.object, activities.c.target)).all():
        values = {}
        obj = _intermediated(conn, row.object)
        if obj is not None:
            values["temp_object"] = model_reference(conn, *obj)
        target = _intermediated(conn, row.target)
        if target is not None:
            values["temp_target"] = model_reference(conn, *target)
        if values:
            conn.execute(activities.update().where(activities.c.id == row.id).values(**values))


def rename_and_remove_object_and_target(conn):
    alter(conn, "core__activities", Change(drop=["object", "target"]))
    alter(
        conn,
        "core__activities",
        Change(rename={"temp_object": "object_id", "temp_target": "target_id"}),
    )


def remove_activityintermediator(conn):
    for table in ("core__collections", "core__media_entries", "core__media_comments", "core__users"):
        alter(conn, table, Change(drop=["activity"]))
    drop_table(conn, "core__activity_intermediators")


def federation_user_create_tables(conn):
    md = sa.MetaData()
    create_table(
        conn,
        sa.Table(
            "core__local_users",
            md,
            sa.Column("id", sa.Integer, sa.ForeignKey("core__users.id"), primary_key=True),
            sa.Column("username", sa.Unicode, nullable=False, unique=True),
            sa.Column("email", sa.Unicode, nullable=False),
            sa.Column("pw_hash", sa.Unicode),
            sa.Column("wants_comment_notification", sa.Boolean),
            sa.Column("wants_notifications", sa.Boolean),
            sa.Column("license_preference", sa.Unicode),
            sa.Column("uploaded", sa.Integer),
            sa.Column("upload_limit", sa.Integer),
        ),
    )
    create_table(
        conn,
        sa.Table(
            "core__remote_users",
            md,
            sa.Column("id", sa.Integer, sa.ForeignKey("core__users.id"), primary_key=True),
            sa.Column("webfinger", sa.Unicode, unique=True),
        ),
    )
    alter(
        conn,
        "core__users",
        Change(add=[Add("updated", sa.DateTime), Add("type", sa.Unicode), Add("name", sa.Unicode)]),
    )


LOCAL_USER_COLUMNS = (
    "id",
    "username",
    "email",
    "pw_hash",
    "wants_comment_notification",
    "wants_notifications",
    "license_preference",
    "uploaded",
    "upload_limit",
)


def federation_user_migrate_data(conn):
    users = reflect(conn, "core__users")
    local = reflect(conn, "core__local_users")
    for row in conn.execute(users.select()).mappings().all():
        conn.execute(local.insert().values(**{c: row[c] for c in LOCAL_USER_COLUMNS}))
        conn.execute(
            users.update()
            .where(users.c.id == row["id"])
            .values(updated=row["created"], type="user_local")
        )


def federation_remove_fields(conn):
    alter(
        conn,
        "core__users",
        Change(drop=list(LOCAL_USER_COLUMNS[1:]), not_null=["updated"]),
    )


def federation_media_entry(conn):
    alter(
        conn,
        "core__media_entries",
        Change(
            add=[
                Add("public_id", sa.Unicode, unique=True),
                Add("remote", sa.Boolean),
                Add("updated", sa.DateTime),
            ]
        ),
    )
    entries = reflect(conn, "core__media_entries")
    conn.execute(entries.update().values(updated=entries.c.created, remote=False))
    alter(conn, "core__media_entries", Change(not_null=["updated"]))


DUMMY_CLIENT_ID = "dummy-client"
DUMMY_REQUEST_TOKEN = "dummy-request-token"
DUMMY_ACCESS_TOKEN = "dummy-access-token"
_SECRET_ALPHABET = string.ascii_letters + "-_"


def _secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(50))


def create_oauth1_dummies(conn):
    if conn.dialect.name == "sqlite":
        # a fresh install's core__clients.id is NOT NULL; the 0.8 create_all left it nullable
        alter(conn, "core__clients", Change(not_null=["id"]))
    clients = reflect(conn, "core__clients")
    requests = reflect(conn, "core__request_tokens")
    accesses = reflect(conn, "core__access_tokens")
    epoch = datetime.datetime.fromtimestamp(0)
    if conn.execute(sa.select(clients.c.id).where(clients.c.id == DUMMY_CLIENT_ID)).first() is None:
        conn.execute(
            clients.insert().values(
                id=DUMMY_CLIENT_ID,
                secret=_secret(),
                application_type="dummy",
                created=epoch,
                updated=epoch,
            )
        )
    found = sa.select(requests.c.token).where(requests.c.token == DUMMY_REQUEST_TOKEN)
    if conn.execute(found).first() is None:
        conn.execute(
            requests.insert().values(
                token=DUMMY_REQUEST_TOKEN,
                secret=_secret(),
                client=DUMMY_CLIENT_ID,
                verifier=_secret(),
                created=epoch,
                updated=epoch,
                callback="oob",
            )
        )
    found = sa.select(accesses.c.token).where(accesses.c.token == DUMMY_ACCESS_TOKEN)
    if conn.execute(found).first() is None:
        conn.execute(
            accesses.insert().values(
                token=DUMMY_ACCESS_TOKEN,
                secret=_secret(),
                request_token=DUMMY_REQUEST_TOKEN,
                created=epoch,
                updated=epoch,
            )
        )


def federation_collection_schema(conn):
    alter(
        conn,
        "core__collections",
        Change(
            add=[
                Add("public_id", sa.Unicode, unique=True),
                Add("updated", sa.DateTime),
                Add("type", sa.Unicode),
            ]
        ),
    )
    collections = reflect(conn, "core__collections")
    conn.execute(collections.update().values(updated=collections.c.created, type="core-user-defined"))
    alter(
        conn,
        "core__collections",
        Change(rename={"items": "num_items"}, not_null=["updated", "type"]),
    )

    alter(conn, "core__collection_items", Change(add=[Add("object_id", sa.Integer, fk=GMR_ID)]))
    items = reflect(conn, "core__collection_items")
    for row in conn.execute(sa.select(items.c.id, items.c.media_entry)).all():
        ref = model_reference(conn, "core__media_entries", row.media_entry)
        conn.execute(items.update().where(items.c.id == row.id).values(object_id=ref))
    alter(
        conn,
        "core__collection_items",
        Change(
            drop=["media_entry"],
            not_null=["object_id"],
            unique=[("collection", "object_id")],
            index=["object_id"],
        ),
    )


def federation_actor(conn):
    for table, old in (
        ("core__request_tokens", "user"),
        ("core__access_tokens", "user"),
        ("core__media_entries", "uploader"),
        ("core__media_comments", "author"),
        ("core__collections", "creator"),
    ):
        alter(conn, table, Change(rename={old: "actor"}))


def federation_graveyard(conn):
    md = sa.MetaData()
    create_table(
        conn,
        sa.Table(
            "core__graveyard",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("public_id", sa.Unicode, unique=True),
            sa.Column("deleted", sa.DateTime, nullable=False),
            sa.Column("object_type", sa.Unicode, nullable=False),
            sa.Column("actor_id", sa.Integer, sa.ForeignKey(GMR_ID)),
        ),
    )


def add_public_id(conn):
    alter(conn, "core__activities", Change(add=[Add("public_id", sa.Unicode, unique=True)]))


def federation_comments(conn):
    alter(
        conn,
        "core__media_comments",
        Change(add=[Add("public_id", sa.Unicode, unique=True), Add("updated", sa.DateTime)]),
    )
    md = sa.MetaData()
    create_table(
        conn,
        sa.Table(
            "core__comment_links",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("target_id", sa.Integer, sa.ForeignKey(GMR_ID), nullable=False),
            sa.Column("comment_id", sa.Integer, sa.ForeignKey(GMR_ID), nullable=False),
            sa.Column("added", sa.DateTime, nullable=False),
        ),
    )
    comments = reflect(conn, "core__media_comments")
    links = reflect(conn, "core__comment_links")
    now = datetime.datetime.utcnow()
    rows = conn.execute(sa.select(comments.c.id, comments.c.media_entry).order_by(comments.c.id))
    for row in rows.all():
        comment_ref = model_reference(conn, "core__media_comments", row.id)
        entry_ref = model_reference(conn, "core__media_entries", row.media_entry)
        conn.execute(links.insert().values(target_id=entry_ref, comment_id=comment_ref, added=now))
    conn.execute(comments.update().values(updated=comments.c.created))
    alter(conn, "core__media_comments", Change(drop=["media_entry"], not_null=["updated"]))


def consolidate_reports(conn):
    alter(conn, "core__reports", Change(add=[Add("object_id", sa.Integer, fk=GMR_ID)]))
    reports = reflect(conn, "core__reports")
    for table, column, model_type in (
        ("core__reports_on_comments", "comment_id", "core__media_comments"),
        ("core__reports_on_media", "media_entry_id", "core__media_entries"),
    ):
        sub = reflect(conn, table)
        for row in conn.execute(sa.select(sub.c.id, sub.c[column])).all():
            if row[1] is None:  # the reported object was deleted
                continue
            ref = model_reference(conn, model_type, row[1])
            conn.execute(reports.update().where(reports.c.id == row.id).values(object_id=ref))
    alter(conn, "core__reports", Change(drop=["type"]))
    drop_table(conn, "core__reports_on_comments")
    drop_table(conn, "core__reports_on_media")


def consolidate_notification(conn):
    alter(conn, "core__notifications", Change(add=[Add("object_id", sa.Integer, fk=GMR_ID)]))
    notifications = reflect(conn, "core__notifications")
    # MediaGoblin records a processing notification's media entry under the model type
    # core__processing_notifications; kept so the rows read as MediaGoblin's own upgrade leaves them
    for table, model_type in (
        ("core__comment_notifications", "core__media_comments"),
        ("core__processing_notifications", "core__processing_notifications"),
    ):
        sub = reflect(conn, table)
        for row in conn.execute(sa.select(sub.c.id, sub.c.subject_id)).all():
            if row.subject_id is None:
                continue
            ref = model_reference(conn, model_type, row.subject_id)
            conn.execute(
                notifications.update().where(notifications.c.id == row.id).values(object_id=ref)
            )
    # a fresh install keeps core__notifications.object_id nullable: no NOT NULL here
    alter(conn, "core__notifications", Change(drop=["type"]))
    drop_table(conn, "core__processing_notifications")
    drop_table(conn, "core__comment_notifications")


def _reference_resolves(conn, ref_id) -> bool:
    if ref_id is None:
        return False
    gmr = reflect(conn, GMR)
    ref = conn.execute(sa.select(gmr.c.model_type, gmr.c.obj_pk).where(gmr.c.id == ref_id)).first()
    return ref is not None and _row_exists(conn, ref.model_type, ref.obj_pk)


def activity_cleanup(conn):
    # core__reports.object_id stays nullable (deleted content leaves reports without an object)
    activities = reflect(conn, "core__activities")
    rows = conn.execute(sa.select(activities.c.id, activities.c.object_id, activities.c.target_id))
    for row in rows.all():
        broken = not _reference_resolves(conn, row.object_id) or (
            row.target_id is not None and not _reference_resolves(conn, row.target_id)
        )
        if broken:
            conn.execute(activities.delete().where(activities.c.id == row.id))
    alter(conn, "core__activities", Change(not_null=["object_id"]))
    # the last step before the handoff to 0.9.0's schema: plugin tables included, no SERIAL
    # default that only an old SQLAlchemy gave (see drop_key_sequences)
    drop_key_sequences(conn)


MIGRATIONS = {
    27: create_generic_model_reference,
    28: add_foreign_key_fields,
    29: migrate_data_foreign_keys,
    30: rename_and_remove_object_and_target,
    31: remove_activityintermediator,
    32: federation_user_create_tables,
    33: federation_user_migrate_data,
    34: federation_remove_fields,
    35: federation_media_entry,
    36: create_oauth1_dummies,
    37: federation_collection_schema,
    38: federation_actor,
    39: federation_graveyard,
    40: add_public_id,
    41: federation_comments,
    42: consolidate_reports,
    43: consolidate_notification,
    44: activity_cleanup,
}
