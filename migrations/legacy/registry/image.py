"""MediaGoblin's image media type (registry name ``mediagoblin.media_types.image``): step 1.

Written for this bundle. The image table's GPS columns become a core__locations row (a JSON
object of the values present) referenced by the media entry; the four columns are dropped.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from _ops import Change, alter, reflect

LOWEST = 0
TOO_OLD_HINT = ""

GPS_FIELDS = (
    ("gps_longitude", "longitude"),
    ("gps_latitude", "latitude"),
    ("gps_altitude", "altitude"),
    ("gps_direction", "direction"),
)


def remove_gps_from_image(conn):
    images = reflect(conn, "image__mediadata")
    locations = reflect(conn, "core__locations")
    entries = reflect(conn, "core__media_entries")
    for row in conn.execute(images.select()).mappings().all():
        position = {key: row[col] for col, key in GPS_FIELDS if row[col] is not None}
        if not position:
            continue
        location_id = conn.execute(
            locations.insert().values(position=json.dumps(position))
        ).inserted_primary_key[0]
        conn.execute(
            entries.update().where(entries.c.id == row["media_entry"]).values(location=location_id)
        )
    alter(conn, "image__mediadata", Change(drop=[col for col, _ in GPS_FIELDS]))


MIGRATIONS = {1: remove_gps_from_image}
