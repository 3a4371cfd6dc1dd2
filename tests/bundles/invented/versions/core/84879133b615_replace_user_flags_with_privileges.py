"""replace user flags with privileges

Creates ``core__privileges`` (seeded with admin, active, uploader, reporter, commenter) and the
``core__privileges_users`` association, then converts every user's old flags into privilege
rows before dropping ``core__users.is_admin``, ``.status`` and ``.email_verified``:

* ``is_admin`` true                     -> ``admin``
* ``status = 'active'``                 -> ``active``, ``uploader``, ``reporter``, ``commenter``
* ``status = 'needs_email_verification'`` -> ``uploader``, ``reporter``, ``commenter``
* any other status (a locked account)   -> no privileges besides ``admin`` if flagged

``email_verified`` carries no information of its own (``status = 'active'`` implies it) and is
dropped. The downgrade rebuilds the three columns from the privilege rows.

Revision ID: 84879133b615
Revises: 6cc2e2d6d8bd
Create Date: 2013-09-30 21:03:51.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "84879133b615"
down_revision: str | Sequence[str] | None = "6cc2e2d6d8bd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIVILEGES = ("admin", "active", "uploader", "reporter", "commenter")
# privilege name -> statuses that grant it
GRANTED_BY_STATUS = {
    "active": ("active",),
    "uploader": ("active", "needs_email_verification"),
    "reporter": ("active", "needs_email_verification"),
    "commenter": ("active", "needs_email_verification"),
}

users = sa.table(
    "core__users",
    sa.column("id", sa.Integer()),
    sa.column("email_verified", sa.Boolean()),
    sa.column("status", sa.Unicode(32)),
    sa.column("is_admin", sa.Boolean()),
)
privileges = sa.table(
    "core__privileges", sa.column("id", sa.Integer()), sa.column("privilege_name", sa.Unicode(32))
)
privileges_users = sa.table(
    "core__privileges_users",
    sa.column("user_id", sa.Integer()),
    sa.column("privilege_id", sa.Integer()),
)


def _privilege_id(name: str):
    return sa.select(privileges.c.id).where(privileges.c.privilege_name == name).scalar_subquery()


def _holds(name: str):
    """SQL condition: the user row of ``users`` holds privilege ``name``."""
    return sa.exists().where(
        privileges_users.c.user_id == users.c.id,
        privileges_users.c.privilege_id == _privilege_id(name),
    )


def upgrade() -> None:
    op.create_table(
        "core__privileges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("privilege_name", sa.Unicode(32), nullable=False),
        sa.UniqueConstraint("privilege_name", name="uq_core__privileges_privilege_name"),
    )
    op.create_table(
        "core__privileges_users",
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("privilege_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core__users.id"],
            name="fk_core__privileges_users_user_id_core__users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["privilege_id"],
            ["core__privileges.id"],
            name="fk_core__privileges_users_privilege_id_core__privileges",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_core__privileges_users_privilege_id", "core__privileges_users", ["privilege_id"]
    )
    op.bulk_insert(privileges, [{"privilege_name": name} for name in PRIVILEGES])

    bind = op.get_bind()
    grants = [("admin", users.c.is_admin == sa.true())]
    grants += [(name, users.c.status.in_(sts)) for name, sts in GRANTED_BY_STATUS.items()]
    for name, condition in grants:
        bind.execute(
            privileges_users.insert().from_select(
                ["user_id", "privilege_id"],
                sa.select(users.c.id, _privilege_id(name)).where(condition),
            )
        )

    with op.batch_alter_table("core__users") as batch:
        batch.drop_column("email_verified")
        batch.drop_column("status")
        batch.drop_column("is_admin")


def downgrade() -> None:
    with op.batch_alter_table("core__users") as batch:
        batch.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "status",
                sa.Unicode(32),
                nullable=False,
                server_default="needs_email_verification",
            )
        )
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    bind = op.get_bind()
    bind.execute(users.update().where(_holds("admin")).values(is_admin=True))
    bind.execute(
        users.update().where(_holds("active")).values(status="active", email_verified=True)
    )
    bind.execute(
        users.update()
        .where(~_holds("active"), ~_holds("uploader"), ~_holds("commenter"), ~_holds("reporter"))
        .values(status="locked")
    )

    op.drop_index("ix_core__privileges_users_privilege_id", table_name="core__privileges_users")
    op.drop_table("core__privileges_users")
    op.drop_table("core__privileges")
