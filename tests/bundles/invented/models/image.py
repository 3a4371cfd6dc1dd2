"""Current schema of the ``image`` media-type plugin (tables ``image__*``).

Loaded by path by the engine; self-contained. Its tables point at core tables by name, so core's
``define`` must have run on the same MetaData first.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "image__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_all", sa.UnicodeText(), nullable=True),
        sa.Column("gps_longitude", sa.Float(), nullable=True),
        sa.Column("gps_latitude", sa.Float(), nullable=True),
        sa.Column("gps_altitude", sa.Float(), nullable=True),
        sa.Column("orientation", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_image__mediadata_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("orientation BETWEEN 1 AND 8", name="ck_image__mediadata_orientation"),
    )
