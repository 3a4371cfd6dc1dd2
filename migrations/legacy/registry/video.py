"""MediaGoblin's video media type (registry name ``mediagoblin.media_types.video``): steps 1-3.

Written for this bundle: 1 adds video__mediadata.orig_metadata (text, as a fresh install has
it), 2 renames the file key name webm_640 to webm_video, 3 turns the one-stream metadata
(videoheight, audiochannels, tags, ...) into the per-stream form {"audio": [...], "video":
[...], "common": {...}}, each stream list holding one object.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from _ops import Add, Change, alter, reflect

LOWEST = 0
TOO_OLD_HINT = ""


def add_orig_metadata_column(conn):
    alter(conn, "video__mediadata", Change(add=[Add("orig_metadata", sa.UnicodeText)]))


def webm_640_to_webm_video(conn):
    keynames = reflect(conn, "core__file_keynames")
    conn.execute(
        keynames.update().where(keynames.c.name == "webm_640").values(name="webm_video")
    )


VIDEO_KEYS = {"videoheight": "height", "videowidth": "width", "videorate": "rate"}
AUDIO_KEYS = {"audiochannels": "channels"}
COMMON_KEYS = {"videolength": "length"}
VIDEO_TAGS = {"encoder", "encoder-version", "video-codec"}
AUDIO_TAGS = {"audio-codec"}


def _pick(old: dict, keys: dict) -> dict:
    return {new: old[key] for key, new in keys.items() if old.get(key)}


def _per_stream(old: dict) -> dict:
    result = {
        "audio": [_pick(old, AUDIO_KEYS)],
        "video": [_pick(old, VIDEO_KEYS)],
        "common": _pick(old, COMMON_KEYS),
    }
    result["common"]["tags"] = {"mimetype": old.get("mimetype")}
    if "tags" in old:
        result["video"][0]["tags"] = {}
        result["audio"][0]["tags"] = {}
        for tag, value in old["tags"].items():
            if tag in VIDEO_TAGS:
                result["video"][0]["tags"][tag] = value
            elif tag in AUDIO_TAGS:
                result["audio"][0]["tags"][tag] = value
            else:
                result["common"]["tags"][tag] = value
    return result


def change_metadata_format(conn):
    videos = reflect(conn, "video__mediadata")
    for row in conn.execute(sa.select(videos.c.media_entry, videos.c.orig_metadata)).all():
        if not row.orig_metadata:
            continue
        new = _per_stream(json.loads(row.orig_metadata))
        conn.execute(
            videos.update()
            .where(videos.c.media_entry == row.media_entry)
            .values(orig_metadata=json.dumps(new))
        )


MIGRATIONS = {1: add_orig_metadata_column, 2: webm_640_to_webm_video, 3: change_metadata_format}
