"""add locations

A ``core__locations`` table (name, position as JSON text, address) and an optional
``core__media_entries.location`` pointing at it (SET NULL when the location goes).

Revision ID: 049d1330c8d8
Revises: 79f8d225f2cd
Create Date: 2016-08-22 19:36:14.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "049d1330c8d8"
down_revision: str | Sequence[str] | None = "79f8d225f2cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core__locations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(255), nullable=True),
        sa.Column("position", sa.UnicodeText(), nullable=True),
        sa.Column("address", sa.UnicodeText(), nullable=True),
    )
    with op.batch_alter_table("core__media_entries") as batch:
        batch.add_column(sa.Column("location", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_core__media_entries_location_core__locations",
            "core__locations",
            ["location"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_core__media_entries_location", "core__media_entries", ["location"])


def downgrade() -> None:
    op.drop_index("ix_core__media_entries_location", table_name="core__media_entries")
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_constraint("fk_core__media_entries_location_core__locations", type_="foreignkey")
        batch.drop_column("location")
    op.drop_table("core__locations")
