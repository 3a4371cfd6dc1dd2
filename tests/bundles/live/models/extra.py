"""Current schema of the live test bundle's plugin."""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "live_extra",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.CheckConstraint("id < 100", name="live_extra_id_small"),
    )
