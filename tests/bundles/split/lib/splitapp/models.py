"""Current schema of the split test bundle, as a declarative base."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from splitapp.naming import NAME_LENGTH


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Unicode(NAME_LENGTH), nullable=False)
    domain: Mapped[str] = mapped_column(sa.Unicode(NAME_LENGTH), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), nullable=False)
    name: Mapped[str] = mapped_column(sa.Unicode(32), nullable=False, index=True)
