"""Current schema of the core component (tables ``core__*``).

This is what ``alembic upgrade core@head`` produces, written out as SQLAlchemy Core tables. The
engine loads this file by path and calls :func:`define`; it must stay self-contained.

Columns are listed in the order the Alembic history leaves them in (columns added by later
revisions come last), and every constraint and index carries an explicit name, so a database
made with ``create_all()`` and one brought up through the revisions look the same on
PostgreSQL and SQLite.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "core__users",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.Unicode(30), nullable=False),
        sa.Column("email", sa.Unicode(254), nullable=False),
        sa.Column("pw_hash", sa.Unicode(255), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("url", sa.Unicode(255), nullable=True),
        sa.Column("bio", sa.UnicodeText(), nullable=True),
        sa.Column(
            "wants_comment_notification", sa.Boolean(), nullable=False, server_default=sa.true()
        ),
        sa.Column("license_preference", sa.Unicode(64), nullable=True),
        sa.Column("wants_notifications", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("username", name="uq_core__users_username"),
        sa.Index("ix_core__users_email", "email"),
    )

    sa.Table(
        "core__file_keynames",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(32), nullable=False),
        sa.UniqueConstraint("name", name="uq_core__file_keynames_name"),
    )

    sa.Table(
        "core__media_entries",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor", sa.Integer(), nullable=False),
        sa.Column("title", sa.Unicode(255), nullable=False),
        sa.Column("slug", sa.Unicode(255), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("media_type", sa.Unicode(128), nullable=False),
        sa.Column("state", sa.Unicode(32), nullable=False, server_default="unprocessed"),
        sa.Column("fail_error", sa.UnicodeText(), nullable=True),
        sa.Column("fail_metadata", sa.UnicodeText(), nullable=True),
        sa.Column("queued_media_file", sa.UnicodeText(), nullable=True),
        sa.Column("queued_task_id", sa.Unicode(255), nullable=True),
        sa.Column("license", sa.Unicode(64), nullable=True),
        sa.Column("location", sa.Integer(), nullable=True),
        sa.Column("updated", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["actor"], ["core__users.id"], name="fk_core__media_entries_actor_core__users"
        ),
        sa.ForeignKeyConstraint(
            ["location"],
            ["core__locations.id"],
            name="fk_core__media_entries_location_core__locations",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("actor", "slug", name="uq_core__media_entries_actor_slug"),
        sa.Index("ix_core__media_entries_created", "created"),
        sa.Index("ix_core__media_entries_actor", "actor"),
        sa.Index("ix_core__media_entries_location", "location"),
    )

    sa.Table(
        "core__media_files",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("file_path", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_core__media_files_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["name_id"],
            ["core__file_keynames.id"],
            name="fk_core__media_files_name_id_core__file_keynames",
        ),
    )

    sa.Table(
        "core__tags",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.Unicode(255), nullable=False),
        sa.UniqueConstraint("slug", name="uq_core__tags_slug"),
    )

    sa.Table(
        "core__media_tags",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("tag", sa.Integer(), nullable=False),
        sa.Column("name", sa.Unicode(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_core__media_tags_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag"], ["core__tags.id"], name="fk_core__media_tags_tag_core__tags"
        ),
        sa.UniqueConstraint("tag", "media_entry", name="uq_core__media_tags_tag_media_entry"),
        sa.Index("ix_core__media_tags_media_entry", "media_entry"),
    )

    sa.Table(
        "core__media_comments",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("author", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("content", sa.UnicodeText(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_core__media_comments_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author"], ["core__users.id"], name="fk_core__media_comments_author_core__users"
        ),
        sa.Index("ix_core__media_comments_media_entry", "media_entry"),
    )

    sa.Table(
        "core__collections",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Unicode(255), nullable=False),
        sa.Column("slug", sa.Unicode(255), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("creator", sa.Integer(), nullable=False),
        sa.Column("num_items", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.ForeignKeyConstraint(
            ["creator"], ["core__users.id"], name="fk_core__collections_creator_core__users"
        ),
        sa.UniqueConstraint("creator", "slug", name="uq_core__collections_creator_slug"),
        sa.Index("ix_core__collections_created", "created"),
    )

    sa.Table(
        "core__collection_items",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("collection", sa.Integer(), nullable=False),
        sa.Column("note", sa.UnicodeText(), nullable=True),
        sa.Column("added", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_core__collection_items_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection"],
            ["core__collections.id"],
            name="fk_core__collection_items_collection_core__collections",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "collection", "media_entry", name="uq_core__collection_items_collection_media_entry"
        ),
    )

    sa.Table(
        "core__privileges",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("privilege_name", sa.Unicode(32), nullable=False),
        sa.UniqueConstraint("privilege_name", name="uq_core__privileges_privilege_name"),
    )

    sa.Table(
        "core__privileges_users",
        metadata,
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("privilege_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core__users.id"],
            name="fk_core__privileges_users_user_id_core__users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["privilege_id"],
            ["core__privileges.id"],
            name="fk_core__privileges_users_privilege_id_core__privileges",
            ondelete="CASCADE",
        ),
        sa.Index("ix_core__privileges_users_privilege_id", "privilege_id"),
    )

    sa.Table(
        "core__notifications",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("seen", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("object_type", sa.Unicode(64), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core__users.id"],
            name="fk_core__notifications_user_id_core__users",
            ondelete="CASCADE",
        ),
        sa.Index("ix_core__notifications_user_id_seen", "user_id", "seen"),
    )

    sa.Table(
        "core__reports",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reported_user_id", sa.Integer(), nullable=False),
        sa.Column("report_content", sa.UnicodeText(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("resolver_id", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.DateTime(), nullable=True),
        sa.Column("result", sa.UnicodeText(), nullable=True),
        sa.Column("media_entry_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["core__users.id"],
            name="fk_core__reports_reporter_id_core__users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reported_user_id"],
            ["core__users.id"],
            name="fk_core__reports_reported_user_id_core__users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolver_id"],
            ["core__users.id"],
            name="fk_core__reports_resolver_id_core__users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["media_entry_id"],
            ["core__media_entries.id"],
            name="fk_core__reports_media_entry_id_core__media_entries",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["core__media_comments.id"],
            name="fk_core__reports_comment_id_core__media_comments",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "resolved IS NOT NULL OR result IS NULL", name="ck_core__reports_result_when_resolved"
        ),
        sa.Index("ix_core__reports_reported_user_id", "reported_user_id"),
    )

    sa.Table(
        "core__locations",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(255), nullable=True),
        sa.Column("position", sa.UnicodeText(), nullable=True),
        sa.Column("address", sa.UnicodeText(), nullable=True),
    )
