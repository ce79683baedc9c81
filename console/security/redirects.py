"""Redirect targets taken from the request: only paths on this site are followed.

Flask-Admin's ``url=`` return address and Flask-Security's ``next=`` both come
from the query string, and both libraries check them by parsing the value the
way ``urllib`` does. Browsers are more lenient than ``urllib`` (``http:/x``,
``/\\x``, a tab inside ``//``, ``%2F%2F`` that a proxy decodes...), so the
console accepts a narrower language instead: a path that starts with exactly
one ``/``, made of visible ASCII, whose path, decoded as often as a proxy
might, is still visible ASCII with no backslash and no second leading slash.
Anything else is refused, never repaired.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from flask import Response, abort, request, url_for

log = logging.getLogger(__name__)

RETURN_URL_PARAM = "url"  # Flask-Admin's name for the page to go back to
MAX_TARGET_LENGTH = 2048
UNSAFE_RETURN_URL_MESSAGE = "The return address (url=) must be a page of this console, such as /admin/tasks/."


def _visible_ascii(text: str) -> bool:
    return all("\x21" <= char <= "\x7e" for char in text)


def is_same_site_path(target: str | None) -> bool:
    """Whether ``target`` is a path on this site that any browser resolves to this site."""
    if not target or len(target) > MAX_TARGET_LENGTH or not _visible_ascii(target):
        return False
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(3):  # a value may be decoded again by a proxy, or by the next hop
        if not path.startswith("/") or path.startswith("//") or "\\" in path:
            return False
        decoded = unquote(path)
        if decoded == path:
            return True
        if not _visible_ascii(decoded):
            return False
        path = decoded
    return False


def safe_redirect_path(target: str | None) -> str | None:
    """``target`` when it is a same-site path, else ``None`` (the caller's default applies)."""
    return target if is_same_site_path(target) else None


def refuse_unsafe_return_url() -> None:
    """Answer 400 when a Flask-Admin screen is given a ``url=`` that is not a page of this site.

    Registered on every admin view's blueprint, so Flask-Admin never redirects
    to, or renders a Cancel link to, a value the console would not follow.
    """
    target = request.args.get(RETURN_URL_PARAM)
    if target is not None and not is_same_site_path(target):
        abort(400, description=UNSAFE_RETURN_URL_MESSAGE)


def keep_redirects_on_site(response: Response) -> Response:
    """The last line: a redirect whose Location is not a path on this site goes to the admin home instead.

    Werkzeug's own redirects (``/admin/tasks`` to ``/admin/tasks/``) name this
    site in full; they are checked as the path they lead to.
    """
    location = response.headers.get("Location")
    if not 300 <= response.status_code < 400 or location is None:
        return response
    origin = request.host_url
    path = "/" + location[len(origin) :] if location.startswith(origin) else location
    if not is_same_site_path(path):
        log.warning("refused an off-site redirect to %r from %s", location[:200], request.path)
        response.headers["Location"] = url_for("admin.index")
    return response
