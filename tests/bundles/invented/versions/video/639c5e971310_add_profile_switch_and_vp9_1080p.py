"""add profile switch and vp9 1080p

Profiles can be switched off without deleting them; ``webm_360p`` is switched off, and a
VP9/Opus 1080p profile is added.

Revision ID: 639c5e971310
Revises: c3007ff80756
Create Date: 2018-04-03 15:48:09.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "639c5e971310"
down_revision: str | Sequence[str] | None = "c3007ff80756"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

profiles = sa.table(
    "video__transcoding_profiles",
    sa.column("name", sa.Unicode(64)),
    sa.column("container", sa.Unicode(16)),
    sa.column("video_codec", sa.Unicode(32)),
    sa.column("audio_codec", sa.Unicode(32)),
    sa.column("width", sa.Integer()),
    sa.column("height", sa.Integer()),
    sa.column("video_bitrate", sa.Integer()),
    sa.column("is_default", sa.Boolean()),
    sa.column("enabled", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("video__transcoding_profiles") as batch:
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    bind = op.get_bind()
    bind.execute(profiles.update().where(profiles.c.name == "webm_360p").values(enabled=False))
    bind.execute(
        profiles.insert().values(
            name="webm_vp9_1080p",
            container="webm",
            video_codec="vp9",
            audio_codec="opus",
            width=1920,
            height=1080,
            video_bitrate=4000,
            is_default=False,
            enabled=True,
        )
    )


def downgrade() -> None:
    op.get_bind().execute(profiles.delete().where(profiles.c.name == "webm_vp9_1080p"))
    with op.batch_alter_table("video__transcoding_profiles") as batch:
        batch.drop_column("enabled")
