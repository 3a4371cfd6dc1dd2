"""Current schema of the pydefault test bundle, as a plain MetaData."""

import sqlalchemy as sa

metadata = sa.MetaData()

sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("body", sa.Unicode(200), nullable=False),
    sa.Column("state", sa.Unicode(16), nullable=True),
    sa.Column("title", sa.Unicode(80), nullable=True),
)
