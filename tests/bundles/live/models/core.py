"""Current core schema of the live test bundle."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "live_hot",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("flag", sa.Boolean(), nullable=True),
        sa.CheckConstraint("n > 0", name="live_hot_n_positive"),
        sa.Index("live_hot_n_key", "n", unique=True),
    )
