"""Current schema of the ``video`` media-type plugin (tables ``video__*``).

Loaded by path by the engine; self-contained. Its tables point at core tables by name, so core's
``define`` must have run on the same MetaData first.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "video__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("orig_metadata", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_video__mediadata_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
    )

    sa.Table(
        "video__transcoding_profiles",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(64), nullable=False),
        sa.Column("container", sa.Unicode(16), nullable=False),
        sa.Column("video_codec", sa.Unicode(32), nullable=False),
        sa.Column("audio_codec", sa.Unicode(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("video_bitrate", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("name", name="uq_video__transcoding_profiles_name"),
        sa.CheckConstraint(
            "width > 0 AND height > 0", name="ck_video__transcoding_profiles_dimensions"
        ),
    )
