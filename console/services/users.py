"""Accounts and roles: create, list, change password, (de)activate, grant and revoke."""

from __future__ import annotations

import secrets
import uuid

import sqlalchemy as sa
from flask_security import hash_password

from console.extensions import db, security
from console.models import Role, User
from console.security.policy import ROLES
from console.services.errors import ServiceError


def ensure_roles() -> list[Role]:
    """Create the fixed roles that do not exist yet; returns all of them."""
    existing = {role.name: role for role in db.session.scalars(sa.select(Role))}
    for name, description in ROLES.items():
        if name not in existing:
            existing[name] = Role(name=name, description=description)
            db.session.add(existing[name])
    return [existing[name] for name in ROLES]


def get_role(name: str) -> Role:
    if name not in ROLES:
        raise ServiceError(f"Unknown role {name!r}. Roles are: {', '.join(ROLES)}.")
    ensure_roles()
    return db.session.scalars(sa.select(Role).where(Role.name == name)).one()


def find_user(email: str) -> User:
    user = db.session.scalars(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())).first()
    if user is None:
        raise ServiceError(f"No user with email {email!r}.")
    return user


def generate_password() -> str:
    """A password that passes the policy: 20 URL-safe random characters."""
    return secrets.token_urlsafe(15)


def check_password(password: str) -> str:
    """Normalise ``password`` the way Flask-Security verifies it; raise if it is too weak."""
    errors, normalized = security.password_util.validate(password, True)
    if errors:
        raise ServiceError("Password rejected: " + " ".join(errors))
    return normalized


def validate_email(email: str) -> str:
    try:
        return security.mail_util.validate(email.strip())
    except ValueError as exc:
        raise ServiceError(f"Invalid email {email!r}: {exc}") from None


def create_user(email: str, role: str, password: str | None = None) -> tuple[User, str]:
    """Create an active user with ``role``; returns the user and the password it was given.

    The password is normalised (NFKD) before hashing, exactly as sign-in
    normalises it, so non-ASCII passwords work.
    """
    email = validate_email(email)
    role_obj = get_role(role)
    if db.session.scalars(sa.select(User).where(sa.func.lower(User.email) == email.lower())).first():
        raise ServiceError(f"A user with email {email!r} already exists.")
    password = password if password is not None else generate_password()
    user = User(email=email, active=True, roles=[role_obj])
    store_password(user, password)
    db.session.add(user)
    return user, password


def store_password(user: User, password: str) -> None:
    """Give ``user`` the password (checked, normalised, hashed) and end every session it has.

    The one place a password is set: the CLI, the Users screen and account creation call it.
    Rotating ``fs_uniquifier`` invalidates every session cookie and remember token of the user
    (Flask-Security's own change-password form does the same in ``change_user_password``).
    """
    user.password = hash_password(check_password(password))
    user.fs_uniquifier = uuid.uuid4().hex


def set_password(email: str, password: str) -> User:
    user = find_user(email)
    store_password(user, password)
    return user


def set_active(email: str, active: bool) -> User:
    user = find_user(email)
    if not active:
        _refuse_removing_last_admin(user)
    user.active = active
    if not active:
        user.fs_uniquifier = uuid.uuid4().hex
    return user


def add_role(email: str, role: str) -> User:
    user = find_user(email)
    role_obj = get_role(role)
    if role_obj not in user.roles:
        user.roles.append(role_obj)
    return user


def remove_role(email: str, role: str) -> User:
    user = find_user(email)
    role_obj = get_role(role)
    if role_obj not in user.roles:
        raise ServiceError(f"{user.email} does not have the role {role!r}.")
    if role == "admin":
        _refuse_removing_last_admin(user)
    user.roles.remove(role_obj)
    return user


def apply_admin_form(user: User, new_password: str | None, *, is_created: bool) -> str | None:
    """Validate and complete a user saved from the Users screen; returns a generated password, if any.

    A new user without a typed password gets a generated one (shown once by the caller); every
    user needs a role; an edit may not leave the console without an active admin.
    """
    generated = None
    if is_created:
        user.email = validate_email(user.email)
        if not new_password:
            generated = new_password = generate_password()
    if new_password:
        store_password(user, new_password)
    if not user.roles:
        raise ServiceError("Give the user at least one role.")
    if not is_created and ("admin" not in user.role_names or not user.active):
        db.session.flush()
        if active_admin_count() < 1:
            raise ServiceError("Refused: this would leave no active admin.")
    return generated


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.email)))


def active_admin_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(User.id)))
            .join(User.roles)
            .where(Role.name == "admin", User.active.is_(True))
        )
        or 0
    )


def _refuse_removing_last_admin(user: User) -> None:
    if "admin" in user.role_names and user.active and active_admin_count() <= 1:
        raise ServiceError("Refused: this is the last active admin. Create another admin first.")


def has_admin() -> bool:
    """Whether any user (active or not) has the admin role."""
    return db.session.scalars(sa.select(User.id).join(User.roles).where(Role.name == "admin")).first() is not None


def ensure_admin(email: str = "admin@example.com", password: str | None = None) -> tuple[User, str] | None:
    """Create an admin when no user has the admin role; returns (user, password) only then.

    ``password=None`` generates one.
    """
    ensure_roles()
    if has_admin():
        return None
    return create_user(email, "admin", password)


DEMO_USERS = {role: f"{role}@example.com" for role in ROLES}


def seed_demo_users(password: str | None = None) -> list[tuple[User, str]]:
    """One user per role (``viewer@example.com`` ...) that does not exist yet."""
    created = []
    for role, email in DEMO_USERS.items():
        if db.session.scalars(sa.select(User).where(User.email == email)).first():
            continue
        created.append(create_user(email, role, password))
    return created
