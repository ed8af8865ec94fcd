"""Files that hold personal data or secrets are the service account's alone.

The data directory holds the SQLite database, the development key, the evidence store and
the development mail drop; under the usual umask 022 everything made there would be readable
by every local user. Directories are made 0700 and files 0600 explicitly, whatever the umask,
and existing ones are narrowed when the service opens them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("rightsdesk.files")

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make `path` (and any missing parents, which are ours too) 0700; narrow it if it exists."""
    missing: list[Path] = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            directory.mkdir(mode=DIR_MODE)
    _restrict(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists as a file only its owner can read and write."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    _restrict(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file, then rename), 0600 throughout."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)  # a leftover .tmp keeps its old mode otherwise
        fh.write(data)
    os.replace(tmp, path)


def private_sqlite(url: str) -> None:
    """For a SQLite URL: the directory 0700, and the database file made 0600 before SQLite
    opens it (its -wal and -shm files take the database file's mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    database = Path(parsed.database)
    private_dir(database.parent)
    private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        side = database.with_name(database.name + suffix)
        if side.exists():
            _restrict(side, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except PermissionError:
        # Not ours (e.g. a directory an operator prepared): say so, and go on.
        log.warning("cannot restrict the permissions of %s to %o", path, mode)
