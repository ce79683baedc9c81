"""People who sign in, and the roles that decide what they may do."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_security import RoleMixin, UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.models.timeutil import utcnow

roles_users = sa.Table(
    "roles_users",
    db.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.Integer, sa.ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model, RoleMixin):  # type: ignore[name-defined,misc]
    """One of the fixed roles in ``console.security.policy.ROLES``."""

    __tablename__ = "role"
    __versioned__: dict = {}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(255))

    def __str__(self) -> str:
        return self.name


class User(db.Model, UserMixin):  # type: ignore[name-defined,misc]
    """A console account. Password hashes and session identifiers are never versioned."""

    __tablename__ = "user"
    __versioned__ = {
        "exclude": [
            "password",
            "fs_uniquifier",
            "last_login_at",
            "current_login_at",
            "last_login_ip",
            "current_login_ip",
            "login_count",
        ]
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    fs_uniquifier: Mapped[str] = mapped_column(sa.String(64), unique=True)
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]  # type: ignore[assignment]
    current_login_at: Mapped[datetime | None]  # type: ignore[assignment]
    last_login_ip: Mapped[str | None] = mapped_column(sa.String(64))
    current_login_ip: Mapped[str | None] = mapped_column(sa.String(64))
    login_count: Mapped[int | None]  # type: ignore[assignment]
    roles = relationship(Role, secondary=roles_users, backref=sa.orm.backref("users", lazy="dynamic"))

    @property
    def role_names(self) -> list[str]:
        return sorted(role.name for role in self.roles)

    def __str__(self) -> str:
        return self.email
