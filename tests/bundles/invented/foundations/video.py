"""Seed rows of a fresh video plugin schema.

The transcoding profiles as the video revisions leave them: the three WebM/VP8 profiles of
c3007ff80756 (``webm_360p`` switched off by 639c5e971310) and the VP9 1080p profile of
639c5e971310, in that order so the ids agree with an upgraded database. Loaded by path by the
engine; self-contained.
"""

import sqlalchemy as sa

_WEBM_VP8 = {"container": "webm", "video_codec": "vp8", "audio_codec": "vorbis"}

PROFILES = (
    {
        **_WEBM_VP8,
        "name": "webm_360p",
        "width": 640,
        "height": 360,
        "video_bitrate": 500,
        "is_default": False,
        "enabled": False,
    },
    {
        **_WEBM_VP8,
        "name": "webm_480p",
        "width": 854,
        "height": 480,
        "video_bitrate": 1000,
        "is_default": True,
        "enabled": True,
    },
    {
        **_WEBM_VP8,
        "name": "webm_720p",
        "width": 1280,
        "height": 720,
        "video_bitrate": 2000,
        "is_default": False,
        "enabled": True,
    },
    {
        "name": "webm_vp9_1080p",
        "container": "webm",
        "video_codec": "vp9",
        "audio_codec": "opus",
        "width": 1920,
        "height": 1080,
        "video_bitrate": 4000,
        "is_default": False,
        "enabled": True,
    },
)


def lay(connection: sa.Connection, metadata: sa.MetaData) -> None:
    connection.execute(
        metadata.tables["video__transcoding_profiles"].insert(), [dict(p) for p in PROFILES]
    )
