"""initial core schema

The tables of the first release: users (with the old ``is_admin``/``status`` flags), media
entries and their files, tags, comments and collections. Seeds the standard file keynames.

Revision ID: ec5b83933f4a
Revises:
Create Date: 2013-03-02 17:40:12.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ec5b83933f4a"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core__users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.Unicode(30), nullable=False),
        sa.Column("email", sa.Unicode(254), nullable=False),
        sa.Column("pw_hash", sa.Unicode(255), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "status", sa.Unicode(32), nullable=False, server_default="needs_email_verification"
        ),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("url", sa.Unicode(255), nullable=True),
        sa.Column("bio", sa.UnicodeText(), nullable=True),
        sa.Column(
            "wants_comment_notification", sa.Boolean(), nullable=False, server_default=sa.true()
        ),
        sa.UniqueConstraint("username", name="uq_core__users_username"),
    )
    op.create_index("ix_core__users_email", "core__users", ["email"])

    file_keynames = op.create_table(
        "core__file_keynames",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(32), nullable=False),
        sa.UniqueConstraint("name", name="uq_core__file_keynames_name"),
    )
    op.bulk_insert(file_keynames, [{"name": "original"}, {"name": "thumb"}, {"name": "medium"}])

    op.create_table(
        "core__media_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uploader", sa.Integer(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["uploader"], ["core__users.id"], name="fk_core__media_entries_uploader_core__users"
        ),
        sa.UniqueConstraint("uploader", "slug", name="uq_core__media_entries_uploader_slug"),
    )
    op.create_index("ix_core__media_entries_created", "core__media_entries", ["created"])
    op.create_index("ix_core__media_entries_uploader", "core__media_entries", ["uploader"])

    op.create_table(
        "core__media_files",
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

    op.create_table(
        "core__tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.Unicode(255), nullable=False),
        sa.UniqueConstraint("slug", name="uq_core__tags_slug"),
    )

    op.create_table(
        "core__media_tags",
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
    )
    op.create_index("ix_core__media_tags_media_entry", "core__media_tags", ["media_entry"])

    op.create_table(
        "core__media_comments",
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
    )
    op.create_index("ix_core__media_comments_media_entry", "core__media_comments", ["media_entry"])

    op.create_table(
        "core__collections",
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
    )
    op.create_index("ix_core__collections_created", "core__collections", ["created"])

    op.create_table(
        "core__collection_items",
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


def downgrade() -> None:
    op.drop_table("core__collection_items")
    op.drop_index("ix_core__collections_created", table_name="core__collections")
    op.drop_table("core__collections")
    op.drop_index("ix_core__media_comments_media_entry", table_name="core__media_comments")
    op.drop_table("core__media_comments")
    op.drop_index("ix_core__media_tags_media_entry", table_name="core__media_tags")
    op.drop_table("core__media_tags")
    op.drop_table("core__tags")
    op.drop_table("core__media_files")
    op.drop_index("ix_core__media_entries_uploader", table_name="core__media_entries")
    op.drop_index("ix_core__media_entries_created", table_name="core__media_entries")
    op.drop_table("core__media_entries")
    op.drop_table("core__file_keynames")
    op.drop_index("ix_core__users_email", table_name="core__users")
    op.drop_table("core__users")
