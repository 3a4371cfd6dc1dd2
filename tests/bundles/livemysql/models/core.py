"""Current core schema of the livemysql test bundle."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "live_hot",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("flag", sa.Boolean(), nullable=True),
        sa.Column("other", sa.Integer(), nullable=True),
    )
    sa.Table("live_side", metadata, sa.Column("id", sa.Integer(), primary_key=True))
