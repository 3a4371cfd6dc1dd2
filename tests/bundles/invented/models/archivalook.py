"""Current schema of the ``archivalook`` front-page plugin (tables ``archivalook__*``).

Loaded by path by the engine; self-contained. Its tables point at core tables by name, so core's
``define`` must have run on the same MetaData first.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "archivalook__featured_media",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("display_type", sa.Unicode(32), nullable=False, server_default="primary"),
        sa.Column("display_order", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("featured_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_archivalook__featured_media_media_entry",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["featured_by"],
            ["core__users.id"],
            name="fk_archivalook__featured_media_featured_by",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("media_entry", name="uq_archivalook__featured_media_media_entry"),
        sa.CheckConstraint(
            "display_type IN ('primary', 'secondary', 'tertiary')",
            name="ck_archivalook__featured_media_display_type",
        ),
        sa.Index("ix_archivalook__featured_media_display_order", "display_order"),
        sa.Index("ix_archivalook__featured_media_featured_by", "featured_by"),
    )
