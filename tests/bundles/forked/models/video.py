"""Current schema of the forked test bundle's video plugin."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "video__data",
        metadata,
        sa.Column("media", sa.Integer(), sa.ForeignKey("core__media.id"), primary_key=True),
        sa.Column("width", sa.Integer(), nullable=True),
    )
