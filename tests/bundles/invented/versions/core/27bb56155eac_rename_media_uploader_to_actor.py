"""rename media uploader to actor

``core__media_entries.uploader`` becomes ``actor`` (the federation vocabulary). The foreign
key, the unique constraint and the index named after the column are renamed with it: PostgreSQL
would otherwise keep the old names, and the models name them after ``actor``.

Revision ID: 27bb56155eac
Revises: 84879133b615
Create Date: 2016-01-12 14:27:05.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "27bb56155eac"
down_revision: str | Sequence[str] | None = "84879133b615"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename(old: str, new: str) -> None:
    op.drop_index(f"ix_core__media_entries_{old}", table_name="core__media_entries")
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_constraint(f"fk_core__media_entries_{old}_core__users", type_="foreignkey")
        batch.drop_constraint(f"uq_core__media_entries_{old}_slug", type_="unique")
        batch.alter_column(
            old, new_column_name=new, existing_type=sa.Integer(), existing_nullable=False
        )
    # A second batch: on SQLite, constraints naming the new column are ignored if they are
    # created in the same table copy that renames it.
    with op.batch_alter_table("core__media_entries") as batch:
        batch.create_foreign_key(
            f"fk_core__media_entries_{new}_core__users", "core__users", [new], ["id"]
        )
        batch.create_unique_constraint(f"uq_core__media_entries_{new}_slug", [new, "slug"])
    op.create_index(f"ix_core__media_entries_{new}", "core__media_entries", [new])


def upgrade() -> None:
    _rename("uploader", "actor")


def downgrade() -> None:
    _rename("actor", "uploader")
