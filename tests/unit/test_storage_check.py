"""A read-only instance folder or a full disk at start: the scheduler and the job worker exit non-zero
with one clear line, instead of a traceback or retrying forever.

Read-only: ``chmod`` for a normal user; root ignores permissions, so as root the folder is a
read-only tmpfs mount.  Full disk: a 64 KiB tmpfs filled up (mounting needs root, so a normal user
checks the read-only case only)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, base_config

AS_ROOT = os.geteuid() == 0
CASES = ["read-only", "full"] if AS_ROOT else ["read-only"]
REASON = {"read-only": ("Read-only file system", "Permission denied"), "full": ("No space left on device",)}


def mount_tmpfs(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    try:
        with open(path, "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC: full, as intended


@pytest.fixture(params=CASES)
def broken_folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "instance"
    folder.mkdir()
    mounted = False
    if request.param == "read-only" and not AS_ROOT:
        folder.chmod(0o555)
    elif request.param == "read-only":
        mount_tmpfs(folder, "size=1m,ro")
        mounted = True
    else:
        mount_tmpfs(folder, "size=64k")
        mounted = True
        try:
            fill(folder / "filler")
        except BaseException:
            subprocess.run(["umount", str(folder)], check=True)
            raise
    try:
        yield folder, request.param
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)


@pytest.mark.parametrize("command", ["scheduler", "worker"])
def test_a_process_that_cannot_write_its_files_exits_with_a_clear_error(
    broken_folder: tuple[Path, str], command: str
) -> None:
    folder, case = broken_folder
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(
        CONSOLE_SECRET_KEY=base_config("")["SECRET_KEY"],
        CONSOLE_DATABASE_URL=f"sqlite:///{folder / 'console.db'}",
        CONSOLE_JOBS_QUEUE_PATH=str(folder / "jobs.db"),
    )
    done = subprocess.run(
        [sys.executable, "manage.py", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [lines[-1]] and lines[-1].startswith("Error: cannot write the SQLite database in "), done.stderr
    assert any(reason in lines[-1] for reason in REASON[case]), lines[-1]
    assert "Traceback" not in done.stderr
    assert not (folder / "console.db").exists()
