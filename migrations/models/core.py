"""Current schema of MediaGoblin's core (tables ``core__*``).

Loaded by path by the engine, which calls :func:`define` on a MetaData. The tables are those a
fresh MediaGoblin 0.10.0+ install holds, column for column and key for key: constraints stay
unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own tables (and SQLite keeps
none); only indexes carry an explicit name. Booleans ask for their constraint, so SQLite gets the
same ``CHECK (x IN (0, 1))`` clauses as MediaGoblin's tables.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "core__clients",
        metadata,
        sa.Column("id", sa.Unicode(), primary_key=True),
        sa.Column("secret", sa.Unicode(), nullable=False),
        sa.Column("expirey", sa.DateTime(), nullable=True),
        sa.Column("application_type", sa.Unicode(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("redirect_uri", sa.UnicodeText(), nullable=True),
        sa.Column("logo_url", sa.Unicode(), nullable=True),
        sa.Column("application_name", sa.Unicode(), nullable=True),
        sa.Column("contacts", sa.UnicodeText(), nullable=True),
    )

    sa.Table(
        "core__file_keynames",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(), nullable=True),
        sa.UniqueConstraint("name"),
    )

    sa.Table(
        "core__generators",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=True),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.Column("object_type", sa.Unicode(), nullable=False),
    )

    sa.Table(
        "core__generic_model_reference",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("obj_pk", sa.Integer(), nullable=False),
        sa.Column("model_type", sa.Unicode(), nullable=False),
        sa.UniqueConstraint("model_type", "obj_pk"),
    )

    sa.Table(
        "core__locations",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(), nullable=True),
        sa.Column("position", sa.UnicodeText(), nullable=True),
        sa.Column("address", sa.UnicodeText(), nullable=True),
    )

    # MediaGoblin's pre-Alembic registry: made, and left empty, on a fresh install
    sa.Table(
        "core__migrations",
        metadata,
        sa.Column("name", sa.Unicode(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )

    sa.Table(
        "core__nonce_timestamps",
        metadata,
        sa.Column("nonce", sa.Unicode(), primary_key=True),
        sa.Column("timestamp", sa.DateTime(), primary_key=True),
    )

    sa.Table(
        "core__privileges",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("privilege_name", sa.Unicode(), nullable=False),
        sa.UniqueConstraint("privilege_name"),
    )

    sa.Table(
        "core__tags",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.Unicode(), nullable=False),
        sa.UniqueConstraint("slug"),
    )

    sa.Table(
        "core__comment_links",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["comment_id"], ["core__generic_model_reference.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["core__generic_model_reference.id"]),
    )

    sa.Table(
        "core__graveyard",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.Unicode(), nullable=True),
        sa.Column("deleted", sa.DateTime(), nullable=False),
        sa.Column("object_type", sa.Unicode(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["core__generic_model_reference.id"]),
        sa.UniqueConstraint("public_id"),
    )

    sa.Table(
        "core__users",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.Unicode(), nullable=True),
        sa.Column("bio", sa.UnicodeText(), nullable=True),
        sa.Column("name", sa.Unicode(), nullable=True),
        sa.Column("type", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("location", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["location"], ["core__locations.id"]),
    )

    sa.Table(
        "core__activities",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.Unicode(), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("verb", sa.Unicode(), nullable=False),
        sa.Column("content", sa.Unicode(), nullable=True),
        sa.Column("title", sa.Unicode(), nullable=True),
        sa.Column("generator", sa.Integer(), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["generator"], ["core__generators.id"]),
        sa.ForeignKeyConstraint(["object_id"], ["core__generic_model_reference.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["core__generic_model_reference.id"]),
        sa.UniqueConstraint("public_id"),
    )

    sa.Table(
        "core__collections",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.Unicode(), nullable=True),
        sa.Column("title", sa.Unicode(), nullable=False),
        sa.Column("slug", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=False),
        sa.Column("num_items", sa.Integer(), nullable=True),
        sa.Column("type", sa.Unicode(), nullable=False),
        sa.Column("location", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["location"], ["core__locations.id"]),
        sa.Index("ix_core__collections_created", "created"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("actor", "slug"),
    )

    sa.Table(
        "core__local_users",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("username", sa.Unicode(), nullable=False),
        sa.Column("email", sa.Unicode(), nullable=False),
        sa.Column("pw_hash", sa.Unicode(), nullable=True),
        sa.Column("wants_comment_notification", sa.Boolean(create_constraint=True), nullable=True),
        sa.Column("wants_notifications", sa.Boolean(create_constraint=True), nullable=True),
        sa.Column("license_preference", sa.Unicode(), nullable=True),
        sa.Column("uploaded", sa.Integer(), nullable=True),
        sa.Column("upload_limit", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["id"], ["core__users.id"]),
        sa.UniqueConstraint("username"),
    )

    sa.Table(
        "core__media_comments",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.Unicode(), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("content", sa.UnicodeText(), nullable=False),
        sa.Column("location", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["location"], ["core__locations.id"]),
        sa.UniqueConstraint("public_id"),
    )

    sa.Table(
        "core__media_entries",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.Unicode(), nullable=True),
        sa.Column("remote", sa.Boolean(create_constraint=True), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=False),
        sa.Column("title", sa.Unicode(), nullable=False),
        sa.Column("slug", sa.Unicode(), nullable=True),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("media_type", sa.Unicode(), nullable=False),
        sa.Column("state", sa.Unicode(), nullable=False),
        sa.Column("license", sa.Unicode(), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("location", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("fail_error", sa.Unicode(), nullable=True),
        sa.Column("fail_metadata", sa.UnicodeText(), nullable=True),
        # smallint in every database MediaGoblin made (its own models said Float)
        sa.Column("transcoding_progress", sa.SmallInteger(), nullable=True),
        sa.Column("queued_media_file", sa.Unicode(), nullable=True),
        sa.Column("queued_task_id", sa.Unicode(), nullable=True),
        sa.Column("media_metadata", sa.UnicodeText(), nullable=True),
        # added by cc3651803714, hence last
        sa.Column("main_transcoding_progress", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["location"], ["core__locations.id"]),
        sa.Index("ix_core__media_entries_created", "created"),
        sa.Index("ix_core__media_entries_actor", "actor"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("actor", "slug"),
    )

    sa.Table(
        "core__notifications",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seen", sa.Boolean(create_constraint=True), nullable=True),
        sa.ForeignKeyConstraint(["object_id"], ["core__generic_model_reference.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["core__users.id"]),
        sa.Index("ix_core__notifications_user_id", "user_id"),
        sa.Index("ix_core__notifications_seen", "seen"),
    )

    sa.Table(
        "core__privileges_users",
        metadata,
        sa.Column("user", sa.Integer(), primary_key=True),
        sa.Column("privilege", sa.Integer(), primary_key=True),
        sa.ForeignKeyConstraint(["privilege"], ["core__privileges.id"]),
        sa.ForeignKeyConstraint(["user"], ["core__users.id"]),
    )

    sa.Table(
        "core__remote_users",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("webfinger", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["id"], ["core__users.id"]),
        sa.UniqueConstraint("webfinger"),
    )

    sa.Table(
        "core__reports",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("report_content", sa.UnicodeText(), nullable=True),
        sa.Column("reported_user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("resolver_id", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.DateTime(), nullable=True),
        sa.Column("result", sa.UnicodeText(), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["object_id"], ["core__generic_model_reference.id"]),
        sa.ForeignKeyConstraint(["reported_user_id"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["reporter_id"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["resolver_id"], ["core__users.id"]),
    )

    sa.Table(
        "core__request_tokens",
        metadata,
        sa.Column("token", sa.Unicode(), primary_key=True),
        sa.Column("secret", sa.Unicode(), nullable=False),
        sa.Column("client", sa.Unicode(), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=True),
        sa.Column("used", sa.Boolean(create_constraint=True), nullable=True),
        sa.Column("authenticated", sa.Boolean(create_constraint=True), nullable=True),
        sa.Column("verifier", sa.Unicode(), nullable=True),
        sa.Column("callback", sa.Unicode(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["client"], ["core__clients.id"]),
    )

    sa.Table(
        "core__user_bans",
        metadata,
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("expiration_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.UnicodeText(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["core__users.id"]),
    )

    sa.Table(
        "core__access_tokens",
        metadata,
        sa.Column("token", sa.Unicode(), primary_key=True),
        sa.Column("secret", sa.Unicode(), nullable=False),
        sa.Column("actor", sa.Integer(), nullable=True),
        sa.Column("request_token", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor"], ["core__users.id"]),
        sa.ForeignKeyConstraint(["request_token"], ["core__request_tokens.token"]),
    )

    sa.Table(
        "core__attachment_files",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("name", sa.Unicode(), nullable=False),
        sa.Column("filepath", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )

    sa.Table(
        "core__collection_items",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("collection", sa.Integer(), nullable=False),
        sa.Column("note", sa.UnicodeText(), nullable=True),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["collection"], ["core__collections.id"]),
        sa.ForeignKeyConstraint(["object_id"], ["core__generic_model_reference.id"]),
        sa.Index("ix_core__collection_items_object_id", "object_id"),
        sa.UniqueConstraint("collection", "object_id"),
    )

    sa.Table(
        "core__comment_subscriptions",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("media_entry_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notify", sa.Boolean(create_constraint=True), nullable=False),
        sa.Column("send_email", sa.Boolean(create_constraint=True), nullable=False),
        sa.ForeignKeyConstraint(["media_entry_id"], ["core__media_entries.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["core__users.id"]),
    )

    sa.Table(
        "core__media_tags",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("tag", sa.Integer(), nullable=False),
        sa.Column("name", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
        sa.ForeignKeyConstraint(["tag"], ["core__tags.id"]),
        sa.Index("ix_core__media_tags_tag", "tag"),
        sa.Index("ix_core__media_tags_media_entry", "media_entry"),
        sa.UniqueConstraint("tag", "media_entry"),
    )

    sa.Table(
        "core__mediafiles",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True),
        sa.Column("name_id", sa.SmallInteger(), primary_key=True),
        sa.Column("file_path", sa.Unicode(), nullable=True),
        sa.Column("file_metadata", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
        sa.ForeignKeyConstraint(["name_id"], ["core__file_keynames.id"]),
    )

    sa.Table(
        "core__processing_metadata",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry_id", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry_id"], ["core__media_entries.id"]),
        sa.Index("ix_core__processing_metadata_media_entry_id", "media_entry_id"),
    )

    sa.Table(
        "core__subtitle_files",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("name", sa.Unicode(), nullable=False),
        sa.Column("filepath", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )
