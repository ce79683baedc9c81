"""``python -m console.instance``: write ``instance/config.py`` with generated secrets once."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

TEMPLATE = """# Written by `make run` on first start. Keep it secret; it is git-ignored.
# Every setting may also come from an environment variable CONSOLE_<NAME>.
SECRET_KEY = "{secret}"
SECURITY_PASSWORD_SALT = "{salt}"
# Local development serves plain http on 127.0.0.1; production keeps secure cookies.
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_SECURE = False
"""


def write_instance_config(instance_dir: Path) -> bool:
    """Create ``instance_dir/config.py`` if missing; returns whether it was written."""
    path = instance_dir / "config.py"
    if path.exists():
        return False
    instance_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(secret=secrets.token_urlsafe(48), salt=secrets.token_urlsafe(24)))
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("instance")
    if write_instance_config(target):
        print(f"Wrote {target / 'config.py'} with generated secrets.")
