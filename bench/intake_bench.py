"""Intake throughput, p50/p99 latency and server peak memory, against a bare FastAPI + SQLModel
insert endpoint measured in the same run, on SQLite and on PostgreSQL.

Every server is a separate process: uvicorn with one worker, as `rightsdesk serve` runs in
production. Each (server, clients, database) cell gets a fresh process on a fresh database:

- `intake`: `python -m app.cli serve` (the production entry point) with env=test settings, the
  tests' fixed data key, the intake and public rate limits off (RIGHTSDESK_INTAKE_RATE_LIMIT=0,
  RIGHTSDESK_PUBLIC_RATE_LIMIT_PER_MINUTE=0) and the **embedded worker on**, the production
  default: during the run the outbox thread claims and "sends" the receipt and the one-time
  code of every filing as .eml files under DATA_DIR/mail (no SMTP), with its own write
  transactions. The load is `POST /v1/requests`.
  The embedded worker gives way to web requests (RIGHTSDESK_WORKER_GIVE_WAY_SECONDS), so
  under this load its receipts trail the filings.
- `intake-workerproc`: the deployment for load (docs/deployment.md): the same web process with
  RIGHTSDESK_EMBEDDED_WORKER=false, and `python -m app.cli worker` as a second process that
  delivers the notices meanwhile. Its CPU is reported as "worker"; it shares the two cores.
- `intake-noworker` (optional, for diagnosis): the web process with RIGHTSDESK_EMBEDDED_WORKER=false
  and no worker at all: notices pile up.
- `bare-sync`: a minimal FastAPI app defined in this file, with one SQLModel table and
  `POST /rows` as a plain `def` handler: FastAPI runs it in its thread pool, where it opens a
  Session, adds one row and commits.
- `bare-async`: the same route as an `async def` handler that does the insert in one
  `run_in_threadpool` call. SQLModel's `Session` is synchronous (its async session needs an
  async driver, and none is installed for SQLite), so this is what "async" means for a
  SQLModel endpoint: the event loop parses and validates the body and answers; one short
  thread-pool call opens the session, inserts, commits. It is also the shape of the intake
  handler itself. This is the reference of the targets.
- `bare-loop` (optional, for diagnosis): an `async def` handler that runs the same synchronous
  insert on the event loop itself. It blocks the loop for the length of the insert, but it is
  a single writer: no thread ever waits on SQLite's write lock.

The bare apps build their engine with `app.db.make_engine`, so they use the service's own
pragmas (WAL, synchronous=NORMAL, busy timeout 30 s) and pool. They take the same JSON body
as the intake and answer 201.

SQLite: a file in a temporary directory (the disk the temporary directory is on), migrated with
`app.migrate.upgrade` once and copied for every cell. PostgreSQL: a throwaway cluster started
with `tests.pg.PostgresServer` (the Debian binaries, as the test suite does), one database per
cell cloned from a migrated template (`tests.pg.TemplateDatabases`). The test suite runs that
cluster without durability (fsync, synchronous_commit and full_page_writes off); this script
starts it with PostgreSQL's defaults for those three (on) unless `--pg-fast` is given, so a
commit costs what it costs in production.

The load generator runs in this process: asyncio (uvloop when installed) and N tasks, each with
its own `httpx.AsyncClient` holding one keep-alive connection (one client shared by N tasks
spends far more CPU per request at N = 32), sending filings back to back for `--warmup`
seconds, then `--seconds` measured seconds. A response counts when it arrives
inside the measured window; its latency runs from the call to the parsed status on the client.
Any response other than 201, or a transport error, is an error. **The client shares the two
cores with the server** (and with PostgreSQL); its CPU time is reported next to the server's.

Server peak memory is VmHWM (peak RSS) from /proc/<pid>/status, read at the end of the run.

Other processes on the machine distort the figures: the script reports the CPU each party used
during the measured window (server, PostgreSQL, the client, and everything else). Before a cell
it waits (up to --idle-wait seconds) for other processes to use less than --max-other cores,
and a cell that saw more than that while measured is run again (--retries); if all attempts
were disturbed the quietest is kept and marked "(noisy)".

Targets (from the issue), for `intake` on each database and client count: throughput ≥ 0.5 ×
the bare async endpoint's, p99 ≤ 1.5 × the bare async p99; the web process's peak RSS
< 200 MB; no errors. `intake-workerproc` is reported against the same ratios without a
target (its worker process competes for the same two cores). Exit 1 when a target fails.

    .venv/bin/python bench/intake_bench.py          # SQLite and PostgreSQL (~5 min when quiet)
    .venv/bin/python bench/intake_bench.py --db sqlite --seconds 10 --json
    .venv/bin/python bench/intake_bench.py --servers bare-async,bare-loop,intake,intake-noworker

Only synthetic people (가상 names, example.com addresses). Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402
from fastapi.concurrency import run_in_threadpool  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlmodel import Field, Session, SQLModel  # noqa: E402

# The same fixed key as the tests (tests/conftest.py): never a real deployment's key.
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

# Targets from the issue.
THROUGHPUT_RATIO = 0.5  # intake ≥ this × bare async
P99_RATIO = 1.5  # intake p99 ≤ this × bare async p99
RSS_LIMIT_BYTES = 200 * 1000 * 1000  # "under 200 MB"
REFERENCE = "bare-async"
# The intake as `rightsdesk serve` runs by default (one web process, its embedded worker), on
# both databases. `intake-workerproc` puts a second process on the same two cores, competing
# with the server, the client and PostgreSQL for them: measured and reported, not a target.
TARGETS = {("sqlite", "intake"), ("postgres", "intake")}

SERVERS = {
    "bare-sync": "/rows",
    "bare-async": "/rows",
    "bare-loop": "/rows",
    "intake": "/v1/requests",
    "intake-workerproc": "/v1/requests",
    "intake-noworker": "/v1/requests",
}

NAMES = ("김가상", "이가상", "박예시", "최시험", "정가명", "강예제", "조가상", "윤시험")
TYPES = ("access", "access", "access", "deletion", "suspension", "consent_withdrawal")
SERVICES = ("uno", "smartcrm", "webersoft", "carecrm")


def body(n: int) -> bytes:
    """The n-th filing: a synthetic adult filing for themselves, e-mail contact."""
    payload = {
        "type": TYPES[n % len(TYPES)],
        "service": SERVICES[n % len(SERVICES)],
        "subject": {
            "name": NAMES[n % len(NAMES)],
            "birth_date": f"{1960 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "email": f"bench+{n}@example.com",
        },
    }
    return json.dumps(payload, ensure_ascii=False).encode()


# --- the bare baseline (runs in its own process: `--serve bare-sync|bare-async|bare-loop`) -----


class BenchRow(SQLModel, table=True):
    __tablename__ = "bench_row"

    id: int | None = Field(default=None, primary_key=True)
    type: str
    service: str
    name: str
    birth_date: date
    email: str
    created_at: datetime


class SubjectIn(BaseModel):
    name: str
    birth_date: date
    email: str


class RowIn(BaseModel):
    type: str
    service: str
    subject: SubjectIn


def bare_app(engine: Any, mode: str) -> FastAPI:
    app = FastAPI()

    def insert(row: RowIn) -> int:
        with Session(engine, expire_on_commit=False) as session:
            stored = BenchRow(
                type=row.type,
                service=row.service,
                name=row.subject.name,
                birth_date=row.subject.birth_date,
                email=row.subject.email,
                created_at=datetime.now(UTC),
            )
            session.add(stored)
            session.commit()
            assert stored.id is not None
            return stored.id

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if mode == "bare-sync":

        @app.post("/rows", status_code=201)
        def create_sync(row: RowIn) -> dict[str, int]:
            return {"id": insert(row)}

    elif mode == "bare-async":

        @app.post("/rows", status_code=201)
        async def create_async(row: RowIn) -> dict[str, int]:
            return {"id": await run_in_threadpool(insert, row)}

    elif mode == "bare-loop":

        @app.post("/rows", status_code=201)
        async def create_on_loop(row: RowIn) -> dict[str, int]:
            return {"id": insert(row)}  # blocks the loop: one writer at a time

    else:
        raise SystemExit(f"unknown bare mode {mode}")
    return app


def serve_bare(mode: str, port: int, database_url: str, data_dir: str) -> int:
    import uvicorn

    from app.db import make_engine
    from app.settings import Settings

    settings = Settings(
        env="test", data_key=TEST_KEY, database_url=database_url, data_dir=Path(data_dir)
    )
    engine = make_engine(settings)  # the service's own pragmas and pool
    SQLModel.metadata.create_all(engine, tables=[BenchRow.__table__])  # type: ignore[attr-defined]
    uvicorn.run(bare_app(engine, mode), host="127.0.0.1", port=port, log_level="warning")
    return 0


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu(ppid: int) -> float:
    """CPU seconds of a process and its direct children (PostgreSQL's backends), including the
    children it has reaped: a backend whose connection the pool closed still counts."""
    try:
        raw = Path(f"/proc/{ppid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    total = sum(int(v) for v in fields[11:15]) / CLK_TCK  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[1]) == ppid:
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


def vm_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) * 1024
    return out


def clean_env() -> dict[str, str]:
    # RIGHTSDESK_* variables from the caller's shell must not steer the servers.
    return {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    worker: subprocess.Popen[bytes] | None = None  # `rightsdesk worker`, for intake-workerproc

    @property
    def pid(self) -> int:
        return self.process.pid


def start_server(kind: str, database_url: str, data_dir: Path, log: Path) -> Server:
    port = free_port()
    env = clean_env()
    if kind.startswith("intake"):
        env.update(
            RIGHTSDESK_ENV="test",
            RIGHTSDESK_DATA_KEY=TEST_KEY,
            RIGHTSDESK_DATABASE_URL=database_url,
            RIGHTSDESK_DATA_DIR=str(data_dir),
            RIGHTSDESK_INTAKE_RATE_LIMIT="0",
            RIGHTSDESK_PUBLIC_RATE_LIMIT_PER_MINUTE="0",
            RIGHTSDESK_EMBEDDED_WORKER="true" if kind == "intake" else "false",
            # uvicorn's access log off, as for the bare servers (it is logged at info).
            RIGHTSDESK_LOG_LEVEL="warning",
        )
        cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            kind,
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
        ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(kind, port, process, log)
    wait_ready(server)
    if kind == "intake-workerproc":
        worker_log = log.with_name("worker.log")
        with open(worker_log, "wb") as out:
            server.worker = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    return server


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.kind} exited at start-up:\n{tail(server.log)}")
            try:
                if client.get(f"http://127.0.0.1:{server.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"{server.kind} did not start within {timeout:.0f}s:\n{tail(server.log)}")


def stop_server(server: Server) -> None:
    # uvicorn's graceful shutdown: the lifespan stops the embedded worker; `rightsdesk worker`
    # stops after the notice in hand.
    for process in (server.process, server.worker):
        if process is None or process.poll() is not None:
            continue
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


# --- databases ---------------------------------------------------------------------------------


class SqliteDatabases:
    def __init__(self, base: Path) -> None:
        from app.migrate import upgrade

        self.base = base
        self.template = base / "template.db"
        upgrade(f"sqlite:///{self.template}")
        self.count = 0
        self.db_pid: int | None = None  # in the server process

    def fresh(self, kind: str) -> tuple[str, Path]:
        self.count += 1
        directory = self.base / f"cell-{self.count:02d}-{kind}"
        directory.mkdir()
        db = directory / "rightsdesk.db"
        if kind.startswith("intake"):
            shutil.copyfile(self.template, db)
        return f"sqlite:///{db}", directory

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL (app.db)"

    def close(self) -> None:
        pass


def durable_postgres_server(fast: bool) -> Any:
    """tests.pg.PostgresServer with fsync, synchronous_commit and full_page_writes on (as in
    production) unless `fast`; the test suite turns them off."""
    from tests.pg import PostgresServer

    return PostgresServer(durable=not fast)


class PostgresDatabases:
    def __init__(self, base: Path, *, fast: bool) -> None:
        import psycopg

        from app.migrate import upgrade
        from tests.pg import TemplateDatabases

        self.base = base
        self.server = durable_postgres_server(fast)
        self.server.start()
        try:
            with psycopg.connect(**self.server.connect_args(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT current_setting('server_version'), current_setting('fsync'), "
                    "current_setting('synchronous_commit'), current_setting('full_page_writes'), "
                    "current_setting('shared_buffers')"
                ).fetchone()
            assert row is not None
            self.version, fsync, sync, fpw, shared = row
            self.settings = (
                f"fsync={fsync}, synchronous_commit={sync}, full_page_writes={fpw}, "
                f"shared_buffers={shared}"
            )
            self.templates = TemplateDatabases(self.server.url, upgrade, drop_on_close=False)
        except BaseException:
            self.server.stop()
            raise
        self.count = 0
        assert self.server.process is not None
        self.db_pid: int | None = self.server.process.pid

    def fresh(self, kind: str) -> tuple[str, Path]:
        self.count += 1
        directory = self.base / f"pg-cell-{self.count:02d}-{kind}"
        directory.mkdir()
        return self.templates.fresh(), directory

    def describe(self) -> str:
        return f"PostgreSQL {self.version} (throwaway cluster, {self.settings})"

    def close(self) -> None:
        try:
            self.templates.close()
        finally:
            self.server.stop()


def stored_rows(kind: str, url: str) -> dict[str, int]:
    """What the server stored: rows, and for the intake the outbox's state."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out: dict[str, int] = {}
            if conn.dialect.name == "postgresql":
                # Connections opened to this database over the run (a pool that closes and
                # reopens overflow connections shows here).
                opened = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                out["pg_sessions"] = int(conn.scalar(text(opened)) or 0)
            if not kind.startswith("intake"):
                out["rows"] = int(conn.scalar(text("SELECT count(*) FROM bench_row")) or 0)
                return out
            out["rows"] = int(conn.scalar(text("SELECT count(*) FROM request")) or 0)
            notices = conn.execute(text("SELECT status, count(*) FROM notice GROUP BY status"))
            return {**out, **{f"notices_{k}": int(v) for k, v in notices.all()}}
    finally:
        engine.dispose()


# --- the load ----------------------------------------------------------------------------------


def p99(samples: list[float]) -> float:
    """Nearest rank: with fewer than 100 samples this is the slowest one."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Snapshot:
    at: float
    server_cpu: float
    worker_cpu: float
    db_cpu: float
    client_cpu: float
    busy: float
    total: float


def snapshot(server_pid: int, db_pid: int | None, worker_pid: int | None) -> Snapshot:
    busy, total = machine_busy()
    return Snapshot(
        at=time.perf_counter(),
        server_cpu=proc_cpu(server_pid),
        worker_cpu=proc_cpu(worker_pid) if worker_pid else 0.0,
        db_cpu=children_cpu(db_pid) if db_pid else 0.0,
        client_cpu=time.process_time(),
        busy=busy,
        total=total,
    )


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # successes inside the window
    errors: int = 0  # inside the window
    errors_total: int = 0
    ok_total: int = 0
    error_samples: list[str] = field(default_factory=list)


async def load(
    port: int,
    path: str,
    clients: int,
    warmup: float,
    seconds: float,
    pids: tuple[int, int | None, int | None],
) -> tuple[LoadResult, Snapshot, Snapshot]:
    import httpx

    result = LoadResult()
    counter = iter(range(1, 10**9))
    headers = {"content-type": "application/json"}
    async with contextlib.AsyncExitStack() as stack:
        # One AsyncClient with one keep-alive connection per simulated client: a single shared
        # pool of N connections costs the client noticeably more CPU per request at N = 32.
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=60,
                    trust_env=False,
                )
            )
            for _ in range(clients)
        ]
        start = time.perf_counter()
        window_start, window_end = start + warmup, start + warmup + seconds

        async def one_client(client: httpx.AsyncClient) -> None:
            while True:
                began = time.perf_counter()
                if began >= window_end:
                    return
                status, detail = 0, ""
                try:
                    response = await client.post(path, content=body(next(counter)), headers=headers)
                    status = response.status_code
                    if status != 201:
                        detail = f"{status} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    detail = f"{type(exc).__name__}: {exc}"
                done = time.perf_counter()
                inside = window_start <= done <= window_end
                if status == 201:
                    result.ok_total += 1
                    if inside:
                        result.latencies.append(done - began)
                else:
                    result.errors_total += 1
                    result.errors += inside
                    if len(result.error_samples) < 5:
                        result.error_samples.append(detail)

        async def sampler() -> tuple[Snapshot, Snapshot]:
            await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
            first = snapshot(*pids)
            await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
            return first, snapshot(*pids)

        tasks = [asyncio.create_task(one_client(client)) for client in pool]
        first, last = await sampler()
        await asyncio.gather(*tasks)
    return result, first, last


def run_load(*args: Any) -> tuple[LoadResult, Snapshot, Snapshot]:
    try:
        import uvloop

        return uvloop.run(load(*args))  # a lighter client: it shares the cores with the server
    except ImportError:
        return asyncio.run(load(*args))


def run_cell(
    kind: str, clients: int, dbs: SqliteDatabases | PostgresDatabases, args: argparse.Namespace
) -> dict[str, Any]:
    url, directory = dbs.fresh(kind)
    server = start_server(kind, url, directory / "data", directory / "server.log")
    try:
        idle = vm_status(server.pid)  # after start-up, before any load
        pids = (server.pid, dbs.db_pid, server.worker.pid if server.worker else None)
        res, a, b = run_load(server.port, SERVERS[kind], clients, args.warmup, args.seconds, pids)
        memory = vm_status(server.pid)
    finally:
        stop_server(server)
    if server.process.returncode not in (0, None):
        log(f"  {kind}: server exit code {server.process.returncode}:\n{tail(server.log, 10)}")
    stored = stored_rows(kind, url)
    elapsed = b.at - a.at
    used = (
        (b.server_cpu - a.server_cpu)
        + (b.worker_cpu - a.worker_cpu)
        + (b.db_cpu - a.db_cpu)
        + (b.client_cpu - a.client_cpu)
    )
    n = len(res.latencies)
    ms = [s * 1000 for s in res.latencies]
    cell = {
        "server": kind,
        "db": "sqlite" if isinstance(dbs, SqliteDatabases) else "postgres",
        "clients": clients,
        "requests": n,
        "throughput": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(p99(ms), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "errors": res.errors,
        "errors_total": res.errors_total,
        "error_samples": res.error_samples,
        "ok_total": res.ok_total,
        "peak_rss_bytes": memory.get("VmHWM", 0),
        "peak_rss_mib": round(memory.get("VmHWM", 0) / 2**20, 1),
        "rss_idle_mib": round(idle.get("VmRSS", 0) / 2**20, 1),
        "rss_end_mib": round(memory.get("VmRSS", 0) / 2**20, 1),
        # CPU over the measured window, per successful request (ms of CPU time).
        "server_cpu_ms_per_req": round((b.server_cpu - a.server_cpu) * 1000 / max(n, 1), 2),
        "server_cpu_util": round((b.server_cpu - a.server_cpu) / elapsed, 2),
        "worker_cpu_util": round((b.worker_cpu - a.worker_cpu) / elapsed, 2),
        "db_cpu_util": round((b.db_cpu - a.db_cpu) / elapsed, 2),
        "client_cpu_util": round((b.client_cpu - a.client_cpu) / elapsed, 2),
        "machine_busy_util": round((b.busy - a.busy) / elapsed, 2),
        # CPU used by anything else on the machine in the window (other jobs skew the figures).
        "other_cpu_util": round(max(0.0, (b.busy - a.busy) - used) / elapsed, 2),
        "stored": stored,
    }
    # Every 201 must be a stored row (the rows of in-flight requests at the end are extra).
    cell["stored_ok"] = stored["rows"] >= res.ok_total
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return cell


MEDIAN_KEYS = (
    "throughput",
    "p50_ms",
    "p99_ms",
    "server_cpu_ms_per_req",
    "server_cpu_util",
    "worker_cpu_util",
    "db_cpu_util",
    "client_cpu_util",
    "machine_busy_util",
    "other_cpu_util",
)


def wait_idle(limit: float, timeout: float, db_pid: int | None) -> float:
    """Wait until other processes use less than `limit` cores (sampled over 1 s; an idle
    PostgreSQL cluster of ours does not count). Returns the last sample."""
    deadline = time.monotonic() + timeout
    while True:
        busy0, db0, at0 = machine_busy()[0], children_cpu(db_pid) if db_pid else 0.0, time.time()
        time.sleep(1.0)
        busy1, db1 = machine_busy()[0], children_cpu(db_pid) if db_pid else 0.0
        other = max(0.0, (busy1 - busy0) - (db1 - db0)) / (time.time() - at0)
        if other < limit or time.monotonic() > deadline:
            return other
        time.sleep(2.0)


def quiet_cell(
    kind: str, clients: int, dbs: SqliteDatabases | PostgresDatabases, args: argparse.Namespace
) -> dict[str, Any]:
    """run_cell when the machine is quiet: other processes' CPU during the measured window skews
    the figures (the load shares the two cores), so a cell that saw more than --max-other
    cores of it is run again, up to --retries times; the quietest attempt is kept."""
    attempts: list[dict[str, Any]] = []
    for _ in range(args.retries + 1):
        wait_idle(args.max_other, args.idle_wait, dbs.db_pid)
        attempts.append(run_cell(kind, clients, dbs, args))
        if attempts[-1]["other_cpu_util"] <= args.max_other:
            break
        log(f"  {kind} {clients}: other processes used {attempts[-1]['other_cpu_util']} cores")
    cell = min(attempts, key=lambda c: c["other_cpu_util"])
    cell["attempts"] = len(attempts)
    cell["noisy"] = cell["other_cpu_util"] > args.max_other
    return cell


def median_cell(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeats of one cell: the median of the timings, the worst of memory and errors."""
    if len(cells) == 1:
        return cells[0]
    out = dict(cells[0])
    for key in MEDIAN_KEYS:
        values = [c[key] for c in cells if c[key] is not None]
        out[key] = round(statistics.median(values), 2) if values else None
    for key in ("max_ms", "peak_rss_bytes", "peak_rss_mib", "rss_idle_mib", "rss_end_mib"):
        out[key] = max(c[key] for c in cells)
    for key in ("errors", "errors_total", "requests", "ok_total"):
        out[key] = sum(c[key] for c in cells)
    out["stored_ok"] = all(c["stored_ok"] for c in cells)
    out["noisy"] = any(c["noisy"] for c in cells)
    out["repeats"] = [
        {k: c[k] for k in ("throughput", "p50_ms", "p99_ms", "peak_rss_mib")} for c in cells
    ]
    return out


# --- targets and report ------------------------------------------------------------------------


def ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    by = {(c["db"], c["clients"], c["server"]): c for c in cells}
    for (db, clients, server), c in by.items():
        ref = by.get((db, clients, REFERENCE))
        if server == REFERENCE or ref is None or not ref["throughput"] or not ref["p99_ms"]:
            continue
        out.append(
            {
                "db": db,
                "clients": clients,
                "server": server,
                "throughput_ratio": round(c["throughput"] / ref["throughput"], 2),
                "p99_ratio": round(c["p99_ms"] / ref["p99_ms"], 2) if c["p99_ms"] else None,
            }
        )
    return out


def check(cells: list[dict[str, Any]], rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def target(name: str, ok: bool | None, detail: str) -> None:
        result = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        out.append({"target": name, "result": result, "detail": detail})

    for r in rs:
        if (r["db"], r["server"]) not in TARGETS:
            continue
        where = f"{r['db']}, {r['clients']} clients"
        target(
            f"{r['server']} throughput ≥ {THROUGHPUT_RATIO:g} × bare async ({where})",
            r["throughput_ratio"] >= THROUGHPUT_RATIO,
            f"{r['throughput_ratio']:.2f} ×",
        )
        target(
            f"{r['server']} p99 ≤ {P99_RATIO:g} × bare async p99 ({where})",
            r["p99_ratio"] is not None and r["p99_ratio"] <= P99_RATIO,
            f"{r['p99_ratio']:.2f} ×" if r["p99_ratio"] is not None else "no samples",
        )
    intake = [c for c in cells if (c["db"], c["server"]) in TARGETS]
    if intake:
        worst = max(intake, key=lambda c: c["peak_rss_bytes"])
        target(
            "intake server peak RSS < 200 MB",
            worst["peak_rss_bytes"] < RSS_LIMIT_BYTES,
            f"max {worst['peak_rss_bytes'] / 1e6:.0f} MB ({worst['peak_rss_mib']} MiB), "
            f"{worst['server']}, {worst['db']}, {worst['clients']} clients",
        )
    target(
        "every response 201, every 201 stored",
        all(c["errors_total"] == 0 and c["stored_ok"] for c in cells),
        ", ".join(
            f"{c['server']}/{c['db']}/{c['clients']}: {c['errors_total']}"
            for c in cells
            if c["errors_total"] or not c["stored_ok"]
        )
        or "0 errors",
    )
    if not any((r["db"], r["server"]) in TARGETS for r in rs):
        target("intake measured against bare async", None, "intake or bare-async not run")
    return out


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import fastapi
    import sqlalchemy
    import sqlmodel
    import uvicorn

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "fastapi": fastapi.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlmodel": sqlmodel.__version__,
        "uvicorn": uvicorn.__version__,
        "git": git_state(),
    }


def git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split("\n")
    except OSError:
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"FastAPI {m['fastapi']}, SQLAlchemy {m['sqlalchemy']}, SQLModel {m['sqlmodel']}, "
        f"uvicorn {m['uvicorn']}, {m['platform']}; git {m['git']}",
    ]
    lines += [f"{db}: {desc}" for db, desc in report["databases"].items()]
    lines += [
        f"{report['warmup']:g} s warm-up, {report['seconds']:g} s measured, "
        f"{report['repeat']} run(s) per cell (median)",
        "",
        "| db | clients | server | req/s | p50 ms | p99 ms | max ms | errors "
        "| RSS idle → peak MiB "
        "| server CPU ms/req | CPU cores: server / worker / db / client / other "
        "| notices delivered / queued |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for c in report["cells"]:
        lines.append(
            f"| {c['db']} | {c['clients']} | {c['server']} | {c['throughput']:.0f} "
            f"| {c['p50_ms']} | {c['p99_ms']} | {c['max_ms']} | {c['errors']} "
            f"| {c['rss_idle_mib']} → {c['peak_rss_mib']} | {c['server_cpu_ms_per_req']} "
            f"| {c['server_cpu_util']} / {c['worker_cpu_util']} / {c['db_cpu_util']} "
            f"/ {c['client_cpu_util']} / {c['other_cpu_util']}{' (noisy)' if c['noisy'] else ''} "
            f"| {notices_text(c)} |"
        )
    lines += ["", f"| db | clients | server | throughput ÷ {REFERENCE} | p99 ÷ {REFERENCE} |"]
    lines += ["|---|---:|---|---:|---:|"]
    lines += [
        f"| {r['db']} | {r['clients']} | {r['server']} | {r['throughput_ratio']:.2f} × "
        f"| {r['p99_ratio']:.2f} × |"
        for r in report["ratios"]
    ]
    lines += ["", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['result']} | {t['detail']} |" for t in report["targets"]]
    noisy = [c for c in report["cells"] if c["noisy"]]
    if noisy:
        lines += [
            "",
            f"{len(noisy)} cell(s) marked (noisy): other processes used more than "
            f"{report['max_other_cores']:g} cores while they were measured, even after "
            "retries. Their figures are low; re-run on a quiet machine.",
        ]
    return "\n".join(lines)


def notices_text(cell: dict[str, Any]) -> str:
    stored = cell["stored"]
    if not cell["server"].startswith("intake"):
        return "–"
    delivered = stored.get("notices_delivered", 0)
    return f"{delivered} / {delivered + stored.get('notices_pending', 0)}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", default="8,32", help="comma-separated concurrency levels")
    parser.add_argument(
        "--servers",
        default="bare-sync,bare-async,intake,intake-workerproc",
        help=", ".join(SERVERS),
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median reported)")
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.25,
        help="re-run a cell when other processes used more CPU (cores) while it was measured",
    )
    parser.add_argument("--retries", type=int, default=3, help="re-runs of a noisy cell")
    parser.add_argument(
        "--idle-wait", type=float, default=120.0, help="seconds to wait for a quiet machine"
    )
    parser.add_argument("--pg-fast", action="store_true", help="PostgreSQL without fsync")
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep databases and server logs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    # Internal: run one bare server in this process.
    parser.add_argument("--serve", choices=["bare-sync", "bare-async", "bare-loop"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--database-url")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.serve:
        return serve_bare(args.serve, args.port, args.database_url, args.data_dir)

    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {unknown}; choose from {', '.join(SERVERS)}")
    levels = [int(n) for n in args.clients.split(",")]
    dbs_wanted = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    base = Path(tempfile.mkdtemp(prefix="intake-bench-", dir=args.dir))
    cells: list[dict[str, Any]] = []
    described: dict[str, str] = {}
    started = datetime.now(UTC)
    try:
        for db in dbs_wanted:
            dbs: SqliteDatabases | PostgresDatabases
            if db == "sqlite":
                dbs = SqliteDatabases(base)
            else:
                dbs = PostgresDatabases(base, fast=args.pg_fast)
            described[db] = dbs.describe()
            try:
                runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
                # Interleaved: each repeat runs every server at every level, so a slow
                # moment of the machine falls on all of them alike.
                for rep in range(args.repeat):
                    for clients in levels:
                        for kind in kinds:
                            cell = quiet_cell(kind, clients, dbs, args)
                            runs.setdefault((clients, kind), []).append(cell)
                            log(
                                f"[{rep + 1}/{args.repeat}] {db} {clients:>3} clients {kind:<16}"
                                f" {cell['throughput']:>7.1f} req/s  p50 {cell['p50_ms']} ms"
                                f"  p99 {cell['p99_ms']} ms  errors {cell['errors_total']}"
                                f"  peak RSS {cell['peak_rss_mib']} MiB"
                                f"  other CPU {cell['other_cpu_util']} cores"
                                + (" (noisy)" if cell["noisy"] else "")
                            )
                cells += [median_cell(runs[(c, k)]) for c in levels for k in kinds]
            finally:
                dbs.close()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log(f"kept {base}")
    rs = ratios(cells)
    report = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "databases": described,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "repeat": args.repeat,
        "max_other_cores": args.max_other,
        "cells": cells,
        "ratios": rs,
    }
    report["targets"] = check(cells, rs)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        print(table(report))
    return 1 if any(t["result"] == "FAIL" for t in report["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
