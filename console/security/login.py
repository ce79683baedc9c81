"""Flask-Security's password forms, throttled and recorded (see ``console.security.throttle``).

Sign-in, ``/verify`` and ``/change`` each check a password, so each waits out
the account's delay before checking it and records the outcome. Only a
rejected password counts as a failure: a missing CSRF token, a disabled
account or an unsafe ``next`` do not. An unsafe ``next`` is dropped (the
default page is used), never an error. "Remember me" is not offered: a
sign-in lasts one browser session, and Flask refuses the signed session
cookie ``PERMANENT_SESSION_LIFETIME`` after it was last written.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_security.forms import ChangePasswordForm, LoginForm, VerifyForm
from flask_security.utils import get_message
from wtforms import Field

from console.security import throttle
from console.security.redirects import is_same_site_path


def _password_rejected(form: Any) -> bool:
    rejected = {get_message("INVALID_PASSWORD")[0], get_message("USER_DOES_NOT_EXIST")[0]}
    errors = [*form.password.errors, *(form.email.errors if hasattr(form, "email") else [])]
    return any(error in rejected for error in errors)


class ThrottledPasswordMixin:
    """Wait out the account's delay, then check the password and record the outcome."""

    form_errors: list[str]
    password: Field

    def attempt_email(self) -> str:
        raise NotImplementedError

    def report_wait(self, message: str) -> None:
        """Show ``message`` where the form's template shows password errors."""
        self.password.errors = [message]

    def validate(self, **kwargs: Any) -> bool:
        email = self.attempt_email()
        if not email:
            return bool(super().validate(**kwargs))  # type: ignore[misc]
        seconds = throttle.wait_seconds(email)
        if seconds:
            throttle.record_attempt(email, False, throttle.THROTTLED)
            self.report_wait(throttle.wait_message(seconds))
            return False
        ok = bool(super().validate(**kwargs))  # type: ignore[misc]
        if ok:
            throttle.record_attempt(email, True, throttle.SUCCEEDED)
        elif _password_rejected(self):
            throttle.record_attempt(email, False, throttle.BAD_CREDENTIALS)
        return ok

    def validate_next(self, field: Field) -> None:
        """Replace Flask-Security's check: an unsafe ``next`` is dropped, not a failed sign-in."""
        if field.data and not is_same_site_path(field.data):
            field.data = ""


class ProtectedLoginForm(ThrottledPasswordMixin, LoginForm):
    """Sign-in, without "remember me"."""

    remember = None  # type: ignore[assignment]

    def attempt_email(self) -> str:
        return str(self.email.data or "").strip()

    def report_wait(self, message: str) -> None:
        # Flask-Security makes the login's field errors generic; form errors are shown as they are.
        self.form_errors.append(message)


class ProtectedVerifyForm(ThrottledPasswordMixin, VerifyForm):
    """Re-entering the password to confirm a sensitive action."""

    def attempt_email(self) -> str:
        return str(current_user.email) if current_user.is_authenticated else ""


class ProtectedChangePasswordForm(ThrottledPasswordMixin, ChangePasswordForm):
    """Changing one's own password, which first checks the current one."""

    def attempt_email(self) -> str:
        return str(current_user.email) if current_user.is_authenticated else ""
