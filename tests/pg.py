"""A throwaway PostgreSQL server for the test session, and fresh databases at the Alembic head.

`PostgresServer` runs `initdb` into a temporary directory and starts `postgres` on a free
loopback port (durability switched off: the data is thrown away). `TemplateDatabases` migrates
one template database per session and clones it for every test (`CREATE DATABASE ... TEMPLATE`,
a file copy, much faster than running Alembic again).

Set RIGHTSDESK_TEST_POSTGRES_URL to a superuser URL to use an existing server instead; the
session then creates and drops its own uniquely named databases there.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "RIGHTSDESK_TEST_POSTGRES_URL"
MISSING_BINARIES = (
    "PostgreSQL server binaries not found: apt-get install postgresql (the CI script does this)"
)
# PostgreSQL refuses to run as root; under root the server runs as `postgres` (made by the
# Debian package) or, failing that, this system user, created on first use.
FALLBACK_USER = "rightsdesk-test"
SUPERUSER = "postgres"
# Unix socket paths are limited to 107 bytes; keep the socket directory well below that.
MAX_SOCKET_DIR = 80


# ---------------------------------------------------------------------------------------------
# Finding the server binaries


def _is_bindir(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in ("initdb", "postgres"))


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(path))) or (0,)


def find_bindir() -> Path:
    """`pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin (Debian), else PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # pg_config may come from libpq-dev alone, whose bindir has no server in it.
        if out and _is_bindir(Path(out)):
            return Path(out)
    patterns = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")
    found = [Path(p) for pattern in patterns for p in glob.glob(pattern)]
    for candidate in sorted(found, key=_version_key, reverse=True):
        if _is_bindir(candidate):
            return candidate
    initdb = shutil.which("initdb")
    if initdb and _is_bindir(Path(initdb).resolve().parent):
        return Path(initdb).resolve().parent
    raise RuntimeError(MISSING_BINARIES)


# ---------------------------------------------------------------------------------------------
# Running as someone other than root


def _unprivileged_account() -> tuple[int, int]:
    """uid and gid of the account the server runs as when we are root."""
    for name in (SUPERUSER, FALLBACK_USER):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ],
        capture_output=True,
        text=True,
    )
    try:  # another test process may have created it in the meantime: look again either way
        entry = pwd.getpwnam(FALLBACK_USER)
    except KeyError:
        raise RuntimeError(
            "PostgreSQL cannot run as root and there is no 'postgres' user; creating the "
            f"system user {FALLBACK_USER!r} failed: {result.stderr.strip() or result.returncode}"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _reachable_by_others(directory: Path) -> bool:
    """Can a user who is neither the owner nor in the group walk down into `directory`?"""
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in [directory, *directory.parents])


def _make_base_dir(uid: int | None, gid: int | None) -> Path:
    parent = Path(tempfile.gettempdir()).resolve()
    too_long = len(str(parent)) > MAX_SOCKET_DIR - 30
    if too_long or (uid is not None and not _reachable_by_others(parent)):
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="rightsdesk-pg-", dir=parent))
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
    return base


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


# ---------------------------------------------------------------------------------------------
# The server


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, for one test session.

    `with PostgresServer() as server: server.url` -- a superuser SQLAlchemy URL for the
    `postgres` database; the cluster is stopped and deleted on exit.
    """

    def __init__(
        self,
        bindir: Path | None = None,
        *,
        start_timeout: float = 30.0,
        timezone: str = "UTC",
        max_connections: int = 300,
        durable: bool = False,
    ) -> None:
        self.bindir = bindir or find_bindir()
        # The tests throw the data away; a benchmark wants production's durability.
        self.durable = durable
        self.start_timeout = start_timeout
        self.timezone = timezone
        self.max_connections = max_connections
        self.password = secrets.token_urlsafe(24)
        self.base: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._run_as: dict[str, Any] = {}

    # -- lifecycle

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the PostgreSQL server is not running")
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database="postgres",
        ).render_as_string(hide_password=False)

    def start(self) -> None:
        began = time.monotonic()
        uid = gid = None
        if os.geteuid() == 0:
            uid, gid = _unprivileged_account()
            # Popen drops privileges in the child itself (no preexec_fn): thread-safe.
            self._run_as = {"user": uid, "group": gid, "extra_groups": []}
        self.base = _make_base_dir(uid, gid)
        atexit.register(self.stop)  # in case the session dies before its teardown
        try:
            self._initdb()
            # A free port can be taken between choosing and binding it: try a few.
            for attempt in range(1, 4):
                self.port = _free_port()
                self._launch()
                if self._wait_until_ready():
                    break
                if attempt == 3 or "Address already in use" not in _tail(self.log):
                    raise RuntimeError(self._failure("exited during start-up"))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the directory. Safe to call twice."""
        atexit.unregister(self.stop)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        base, self.base = self.base, None
        self.port = None
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
            if base.exists():
                warnings.warn(f"could not remove test PostgreSQL dir {base}", stacklevel=2)

    # -- steps

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def log(self) -> Path:
        assert self.base is not None
        return self.base / "server.log"

    def _env(self) -> dict[str, str]:
        # PG* variables (PGDATA, PGPORT, ...) from the caller's shell must not steer the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ=self.timezone)
        return env

    def _initdb(self) -> None:
        assert self.base is not None
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if "user" in self._run_as:
            os.chown(pwfile, self._run_as["user"], self._run_as["group"])
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=self.base,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **self._run_as,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed (exit {result.returncode}) in {self.data}:\n{result.stdout[-3000:]}"
            )

    def _launch(self) -> None:
        assert self.base is not None and self.port is not None
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.base),
            "max_connections": str(self.max_connections),
            "timezone": self.timezone,
            "log_timezone": self.timezone,
        }
        if not self.durable:
            # Throwaway data: no durability, much less I/O.
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        args = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                args,
                cwd=self.base,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._run_as,
            )

    def _wait_until_ready(self) -> bool:
        """True once it accepts connections; False if it exited (the log says why)."""
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                self.process = None
                return False
            try:
                psycopg.connect(**self.connect_args(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.05)
        raise RuntimeError(
            self._failure(f"did not accept connections within {self.start_timeout:.0f}s")
            + f"\nlast connection error: {last_error}"
        )

    def _failure(self, what: str) -> str:
        return (
            f"the test PostgreSQL server ({self.bindir}/postgres, port {self.port}) {what}.\n"
            f"--- end of its log ---\n{_tail(self.log)}"
        )

    def connect_args(self) -> dict[str, Any]:
        return _connect_args(self.url)


# ---------------------------------------------------------------------------------------------
# Fresh databases from a migrated template


def _connect_args(url: str) -> dict[str, Any]:
    """psycopg.connect() keywords for a SQLAlchemy URL."""
    u = make_url(url)
    args: dict[str, Any] = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database or "postgres",
    }
    args.update({k: v for k, v in u.query.items() if isinstance(v, str)})
    return {k: v for k, v in args.items() if v is not None}


def psycopg_url(url: str) -> str:
    """The same URL with the driver the app uses (accepts postgres://, postgresql://, ...)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    u = make_url(url).set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


class TemplateDatabases:
    """Migrate `<prefix>template` once, then hand out clones: `fresh()` returns a new URL."""

    def __init__(
        self,
        admin_url: str,
        upgrade: Callable[[str], None],
        *,
        prefix: str = "rd_",
        drop_on_close: bool = True,
    ) -> None:
        self.admin_url = psycopg_url(admin_url)
        self.prefix = prefix
        self.template = f"{prefix}template"
        self.drop_on_close = drop_on_close
        self.created: list[str] = []
        self._counter = itertools.count(1)
        self._conn = psycopg.connect(**_connect_args(self.admin_url), autocommit=True)
        self._force = self._conn.info.server_version >= 130000  # DROP DATABASE ... WITH (FORCE)
        try:
            self._execute("CREATE DATABASE {}", self.template)
            upgrade(self.url_for(self.template))
            # Nobody may connect to the template by accident: a connection blocks cloning.
            self._execute("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false", self.template)
        except BaseException:
            self.close()
            raise

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def fresh(self) -> str:
        """A new database with the schema at the Alembic head and no rows."""
        name = f"{self.prefix}{next(self._counter)}"
        self._execute("CREATE DATABASE {} TEMPLATE {}", name, self.template)
        self.created.append(name)
        return self.url_for(name)

    def close(self) -> None:
        if self._conn.closed:
            return
        try:
            if self.drop_on_close:
                for name in [*reversed(self.created), self.template]:
                    self._drop(name)
        finally:
            self._conn.close()

    def _drop(self, name: str) -> None:
        if self._force:
            self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
            return
        self._conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        self._execute("DROP DATABASE IF EXISTS {}", name)

    def _execute(self, statement: str, *names: str) -> None:
        self._conn.execute(sql.SQL(statement).format(*(sql.Identifier(n) for n in names)))


@contextmanager
def postgres_databases(upgrade: Callable[[str], None]) -> Iterator[Callable[[], str]]:
    """For the session: a callable returning the URL of a fresh, migrated, empty database.

    Uses the server at RIGHTSDESK_TEST_POSTGRES_URL if set, else starts one.
    """
    external = os.environ.get(ENV_URL)
    if external:
        # Unique names: other sessions (or a crashed earlier one) may share that server.
        prefix = f"rd_{secrets.token_hex(4)}_"
        databases = TemplateDatabases(external, upgrade, prefix=prefix, drop_on_close=True)
        try:
            yield databases.fresh
        finally:
            databases.close()
        return
    with PostgresServer() as server:
        # The whole cluster is deleted afterwards: no need to drop database by database.
        databases = TemplateDatabases(server.url, upgrade, drop_on_close=False)
        try:
            yield databases.fresh
        finally:
            databases.close()
