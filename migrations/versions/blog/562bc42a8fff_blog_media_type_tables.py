"""Blog media type: mediatype__blogs and blogpost__mediadata

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``blogpost__mediadata`` exists, nothing is done and only the revision is recorded.

Revision ID: 562bc42a8fff
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "562bc42a8fff"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("blog_media_type",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("blogpost__mediadata"):
        return
    op.create_table(
        "mediatype__blogs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Unicode(), nullable=True),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("author", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("slug", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["author"], ["core__users.id"]),
    )
    op.create_index("ix_mediatype__blogs_created", "mediatype__blogs", ["created"])
    op.create_index("ix_mediatype__blogs_author", "mediatype__blogs", ["author"])
    op.create_table(
        "blogpost__mediadata",
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("blog", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["blog"], ["mediatype__blogs.id"]),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )


def downgrade() -> None:
    op.drop_table("blogpost__mediadata")
    op.drop_table("mediatype__blogs")
