"""Current schema of the OpenID plugin (``mediagoblin.plugins.openid``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "openid__association",
        metadata,
        sa.Column("server_url", sa.Unicode(), primary_key=True),
        sa.Column("handle", sa.Unicode(), primary_key=True),
        sa.Column("secret", sa.Unicode(), nullable=True),
        sa.Column("issued", sa.Integer(), nullable=True),
        sa.Column("lifetime", sa.Integer(), nullable=True),
        sa.Column("assoc_type", sa.Unicode(), nullable=True),
    )

    sa.Table(
        "openid__nonce",
        metadata,
        sa.Column("server_url", sa.Unicode(), primary_key=True),
        sa.Column("timestamp", sa.Integer(), primary_key=True),
        sa.Column("salt", sa.Unicode(), primary_key=True),
    )

    sa.Table(
        "openid__user_urls",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("openid_url", sa.Unicode(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["core__users.id"]),
    )
