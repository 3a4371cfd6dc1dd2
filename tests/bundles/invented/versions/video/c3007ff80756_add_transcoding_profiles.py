"""add transcoding profiles

Transcoding targets move from the config file into the database, seeded with the three WebM/VP8
profiles that used to be hard-wired (480p being the default).

Revision ID: c3007ff80756
Revises: 68c6e58bb4de
Create Date: 2015-05-11 10:14:22.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3007ff80756"
down_revision: str | Sequence[str] | None = "68c6e58bb4de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    profiles = op.create_table(
        "video__transcoding_profiles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(64), nullable=False),
        sa.Column("container", sa.Unicode(16), nullable=False),
        sa.Column("video_codec", sa.Unicode(32), nullable=False),
        sa.Column("audio_codec", sa.Unicode(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("video_bitrate", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("name", name="uq_video__transcoding_profiles_name"),
        sa.CheckConstraint(
            "width > 0 AND height > 0", name="ck_video__transcoding_profiles_dimensions"
        ),
    )
    webm = {"container": "webm", "video_codec": "vp8", "audio_codec": "vorbis"}
    op.bulk_insert(
        profiles,
        [
            {
                **webm,
                "name": "webm_360p",
                "width": 640,
                "height": 360,
                "video_bitrate": 500,
                "is_default": False,
            },
            {
                **webm,
                "name": "webm_480p",
                "width": 854,
                "height": 480,
                "video_bitrate": 1000,
                "is_default": True,
            },
            {
                **webm,
                "name": "webm_720p",
                "width": 1280,
                "height": 720,
                "video_bitrate": 2000,
                "is_default": False,
            },
        ],
    )


def downgrade() -> None:
    op.drop_table("video__transcoding_profiles")
