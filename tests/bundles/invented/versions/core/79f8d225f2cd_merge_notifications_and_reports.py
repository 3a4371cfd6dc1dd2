"""merge notifications and reports

Joins the two lines of development that forked at 27bb56155eac, so core ships one head.

Revision ID: 79f8d225f2cd
Revises: 4059b5e8f020, 0b8168aadeec
Create Date: 2016-03-15 08:00:00.000000
"""

from collections.abc import Sequence

revision: str = "79f8d225f2cd"
down_revision: str | Sequence[str] | None = ("4059b5e8f020", "0b8168aadeec")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
