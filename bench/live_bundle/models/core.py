"""Current schema of the bench's live bundle."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "hot",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("flag", sa.Boolean(), nullable=True),
    )
