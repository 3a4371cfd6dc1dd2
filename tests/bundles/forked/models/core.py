"""Current core schema of the forked test bundle."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "core__users",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    sa.Table(
        "core__media",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(50), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
    )
    sa.Table(
        "core__privileges",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(20), nullable=False),
    )
    sa.Table(
        "core__subtitles",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media", sa.Integer(), sa.ForeignKey("core__media.id"), nullable=False),
    )
