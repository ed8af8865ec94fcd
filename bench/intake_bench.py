"""The intake under a flood of filings: the day after a breach is announced.

An open-loop load of `POST /v1/requests` (JSON) at a fixed arrival rate, with the e-mail
notices delivered over SMTP to a real local server (aiosmtpd), on two deployments:

- `embedded`: one `python -m app.cli serve` process on SQLite, with the embedded worker
  (RIGHTSDESK_EMBEDDED_WORKER's default, true) delivering the notices; 50 filings/s.
- `postgres`: `python -m app.cli serve --workers 2` (RIGHTSDESK_EMBEDDED_WORKER=false) and one
  `python -m app.cli worker`, on a throwaway PostgreSQL cluster with production's durability
  (fsync, synchronous_commit and full_page_writes on; the test suite turns them off);
  100 filings/s.

Every party is a process of its own: the web process(es), the worker, PostgreSQL, the load
generator and the SMTP sink. This process only starts them, reads their CPU time from /proc
and computes the figures. The settings are RIGHTSDESK_ENV=test, the tests' fixed data key and
the intake and public rate limits off; the web processes log at `warning` (no access log).

The load generator (asyncio, uvloop when installed, a minimal HTTP/1.1 client) schedules filing i at
t0 + i / rate and sends it then, whether or not earlier filings have been answered (open loop).
A filing's latency runs from its scheduled time to its parsed response, so a stalled server or
a late generator shows in the figures (no coordinated omission). Any response other than 201,
or a transport error (60 s timeout), is an error. Every filing is a synthetic adult (가상
names, example.com addresses) filing for themselves with an e-mail contact, so it queues two
e-mails: the receipt and the one-time code.

The SMTP sink records when each message arrives, with the reference and the notice kind from
its X-RightsDesk-Reference and X-RightsDesk-Notice headers (the reference is in the subject
too). A receipt's delay runs from its filing's 201 to its arrival at the sink (both processes
read the same CLOCK_MONOTONIC). The one-time-code e-mails are reported separately, without a
target. After the last filing the run waits until every e-mail has arrived, or 60 s after the
last 201: a receipt not in by 60 s after its filing is counted as not delivered.

Before the load, 10 filings are sent one by one and their e-mails awaited (a warm-up and a
check that delivery works); they are not counted.

Targets, per scenario: no errors, filing p99 < 300 ms, receipt delay p99 ≤ 30 s and every
receipt delivered within 60 s. Exit 1 when a target fails.

    .venv/bin/python bench/intake_bench.py                      # both scenarios (~10 min)
    .venv/bin/python bench/intake_bench.py --scenario embedded --seconds 60
    .venv/bin/python bench/intake_bench.py --scenario postgres --rate 150 --json

Only synthetic people. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same fixed key as the tests (tests/conftest.py): never a real deployment's key.
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

# Targets from the issue.
FILING_P99_MS = 300.0
RECEIPT_P99_S = 30.0
RECEIPT_MAX_S = 60.0  # and the wait after the last filing
WARMUP_FILINGS = 10
# The e-mails of a self filing: its receipt and its one-time code (the notice kinds).
KINDS = ("receipt", "verification_code")


@dataclass(frozen=True)
class Scenario:
    name: str
    db: str  # sqlite | postgres
    web_workers: int
    embedded_worker: bool
    rate: float  # filings per second


SCENARIOS = {
    "embedded": Scenario("embedded", "sqlite", 1, True, 50.0),
    "postgres": Scenario("postgres", "postgres", 2, False, 100.0),
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
            "email": f"flood+{n}@example.com",
        },
    }
    return json.dumps(payload, ensure_ascii=False).encode()


# --- CPU time from /proc -----------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree_cpu(root: int | None) -> float:
    """CPU seconds of a process and all its descendants, including the children they reaped
    (PostgreSQL's backends, uvicorn's worker processes). 0 when it is gone."""
    if root is None:
        return 0.0
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            stats[int(entry.name)] = fields
    if root not in stats:
        return 0.0
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        fields = stats[pid]
        total += sum(int(v) for v in fields[11:15]) / CLK_TCK  # utime, stime, cutime, cstime
        todo += [child for child, f in stats.items() if int(f[1]) == pid]
    return total


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK  # minus idle and iowait


# --- the SMTP sink (its own process: `--smtp-sink PORT FILE`) ----------------------------------

_HEADER = re.compile(rb"^X-RightsDesk-(Reference|Notice):[ \t]*(\S+)", re.I | re.M)


class ArrivalLog:
    """aiosmtpd handler: one line per message, `<monotonic time> <kind> <reference>`. Only the
    headers are read (parsing the whole message would cost the sink more than the service)."""

    def __init__(self, out: Any) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.monotonic()
        raw = envelope.original_content or envelope.content or b""
        headers = dict(
            (k.lower(), v.decode()) for k, v in _HEADER.findall(raw.split(b"\r\n\r\n", 1)[0])
        )
        kind, ref = headers.get(b"notice", "-"), headers.get(b"reference", "-")
        self.out.write(f"{arrived:.6f} {kind} {ref}\n")
        self.out.flush()
        return "250 OK"


def run_sink(port: int, path: str) -> int:
    from aiosmtpd.controller import Controller

    stop = False

    def halt(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    with open(path, "a", encoding="utf-8") as out:
        controller = Controller(ArrivalLog(out), hostname="127.0.0.1", port=port)
        controller.start()
        while not stop:
            time.sleep(0.2)
        controller.stop()
    return 0


def read_arrivals(path: Path) -> dict[tuple[str, str], float]:
    """(kind, reference) → the first arrival of that e-mail at the sink."""
    out: dict[tuple[str, str], float] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            at, kind, ref = line.split(" ")
            out.setdefault((kind, ref), float(at))
    return out


# --- the load generator (its own process: `--generate PORT RATE SECONDS FILE`) -----------------


class Connections:
    """A minimal HTTP/1.1 client over asyncio streams, one request per connection at a time:
    an idle keep-alive connection is reused, else a new one opened. httpx spent several ms of
    CPU per request once hundreds were in flight, on the cores the server needs."""

    IDLE_LIMIT = 4.0  # uvicorn closes a keep-alive connection after 5 s idle

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connection()
        head = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + payload)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if fields.get("connection") == "close":
            writer.close()
        else:
            self.idle.append((time.monotonic(), reader, writer))
        return status, content

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:  # the most recently used first
            since, reader, writer = self.idle.pop()
            if time.monotonic() - since < self.IDLE_LIMIT and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()


async def flood(port: int, rate: float, seconds: float) -> dict[str, Any]:
    """Filing i is sent at t0 + i / rate, answered or not; one record per filing."""
    records: list[dict[str, Any]] = []
    connections = Connections(port)

    async def one(i: int, scheduled: float) -> None:
        sent, status, ref, detail = time.monotonic(), 0, "", ""
        try:
            status, content = await asyncio.wait_for(
                connections.post("/v1/requests", body(i)), timeout=60
            )
            if status == 201:
                ref = json.loads(content)["reference"]
            else:
                detail = f"{status} {content[:200].decode(errors='replace')}"
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            status, detail = 0, f"{type(exc).__name__}: {exc}"
        done = time.monotonic()
        records.append(
            {"scheduled": scheduled, "sent": sent, "done": done, "status": status}
            | {"reference": ref, "detail": detail}
        )

    cpu0, t0 = time.process_time(), time.monotonic() + 0.2
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = t0 + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        tasks.append(asyncio.create_task(one(WARMUP_FILINGS + i, scheduled)))
    await asyncio.gather(*tasks)
    connections.close()
    return {"t0": t0, "cpu_seconds": time.process_time() - cpu0, "records": records}


def run_generator(port: int, rate: float, seconds: float, path: str) -> int:
    try:
        import uvloop

        result = uvloop.run(flood(port, rate, seconds))
    except ImportError:
        result = asyncio.run(flood(port, rate, seconds))
    Path(path).write_text(json.dumps(result))
    return 0


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: uvicorn's workers are stopped with it
        )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGINT to the process's group (a graceful stop), SIGKILL after 30 s."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def service_env(database_url: str, data_dir: Path, smtp_port: int, embedded: bool) -> dict:
    # RIGHTSDESK_* variables from the caller's shell must not steer the service.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env.update(
        RIGHTSDESK_ENV="test",
        RIGHTSDESK_DATA_KEY=TEST_KEY,
        RIGHTSDESK_DATABASE_URL=database_url,
        RIGHTSDESK_DATA_DIR=str(data_dir),
        RIGHTSDESK_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        RIGHTSDESK_INTAKE_RATE_LIMIT="0",
        RIGHTSDESK_PUBLIC_RATE_LIMIT_PER_MINUTE="0",
        RIGHTSDESK_EMBEDDED_WORKER="true" if embedded else "false",
        RIGHTSDESK_LOG_LEVEL="warning",  # no access log line per filing
    )
    return env


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the web server exited at start-up:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"the web server did not answer within 60 s:\n{tail(log)}")


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


# --- databases ---------------------------------------------------------------------------------


class Database:
    """A migrated SQLite file, or a fresh database on a durable throwaway PostgreSQL cluster."""

    def __init__(self, kind: str, directory: Path) -> None:
        from app.migrate import upgrade

        self.kind, self.pid, self.description = kind, None, ""
        self.server: Any = None
        self.templates: Any = None
        if kind == "sqlite":
            self.url = f"sqlite:///{directory / 'rightsdesk.db'}"
            upgrade(self.url)
            self.description = f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL"
            return
        from tests.pg import PostgresServer, TemplateDatabases

        # tests.pg with fsync, synchronous_commit and full_page_writes on, as in production.
        self.server = PostgresServer(durable=True)
        self.server.start()
        try:
            self.templates = TemplateDatabases(self.server.url, upgrade, drop_on_close=False)
            self.url = self.templates.fresh()
            self.description = self._describe()
        except BaseException:
            self.close()
            raise
        self.pid = self.server.process.pid

    def _describe(self) -> str:
        import psycopg

        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes")
        query = "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)
        with psycopg.connect(**self.server.connect_args(), autocommit=True) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        version, *rest = row
        settings = ", ".join(f"{n}={v}" for n, v in zip(names[1:], rest, strict=True))
        return f"PostgreSQL {version} (throwaway cluster, {settings})"

    def notices(self) -> dict[str, int]:
        """The outbox at the end: notices by status, and the requests stored."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT status, count(*) FROM notice GROUP BY status"))
                out = {f"notices_{k}": int(v) for k, v in rows.all()}
                out["requests"] = int(conn.scalar(text("SELECT count(*) FROM request")) or 0)
                return out
        finally:
            engine.dispose()

    def close(self) -> None:
        if self.templates is not None:
            self.templates.close()
        if self.server is not None:
            self.server.stop()


# --- one scenario ------------------------------------------------------------------------------


@dataclass
class Deployment:
    """The processes of one run, and where their output goes."""

    directory: Path
    db: Database
    web_port: int = 0
    sink_port: int = 0
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    sink: subprocess.Popen[bytes] | None = None

    @property
    def arrivals_file(self) -> Path:
        return self.directory / "arrivals.txt"

    def start(self, scenario: Scenario) -> None:
        here = str(Path(__file__).resolve())
        self.sink_port, self.web_port = free_port(), free_port()
        sink_cmd = [sys.executable, here, "--smtp-sink", str(self.sink_port)]
        self.sink = spawn([*sink_cmd, str(self.arrivals_file)], self.directory / "sink.log")
        wait_port(self.sink_port)
        env = service_env(
            self.db.url, self.directory / "data", self.sink_port, scenario.embedded_worker
        )
        serve = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
        serve += ["--port", str(self.web_port), "--workers", str(scenario.web_workers)]
        self.web = spawn(serve, self.directory / "web.log", env)
        wait_ready(self.web_port, self.web, self.directory / "web.log")
        if not scenario.embedded_worker:
            worker = [sys.executable, "-m", "app.cli", "worker"]
            self.worker = spawn(worker, self.directory / "worker.log", env)

    def cpu(self) -> dict[str, float]:
        assert self.web is not None and self.sink is not None
        return {
            "web": tree_cpu(self.web.pid),
            "worker": tree_cpu(self.worker.pid) if self.worker else 0.0,
            "postgres": tree_cpu(self.db.pid),
            "sink": tree_cpu(self.sink.pid),
            "bench": time.process_time(),  # this process: starting, polling, reading /proc
            "machine": machine_busy(),
        }

    def stop(self) -> None:
        for process in (self.worker, self.web, self.sink):
            stop(process)


def warm_up(deployment: Deployment) -> None:
    """WARMUP_FILINGS filings one by one, then wait for their e-mails (delivery works)."""
    import httpx

    refs = []
    url = f"http://127.0.0.1:{deployment.web_port}/v1/requests"
    headers = {"content-type": "application/json"}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for i in range(WARMUP_FILINGS):
            response = client.post(url, content=body(i), headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"warm-up filing answered {response.status_code}")
            refs.append(response.json()["reference"])
    wanted = {(kind, ref) for ref in refs for kind in KINDS}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if wanted.issubset(read_arrivals(deployment.arrivals_file)):
            return
        time.sleep(0.5)
    web_log = tail(deployment.directory / "web.log")
    raise RuntimeError(f"the warm-up's e-mails did not arrive within 60 s:\n{web_log}")


def generate(deployment: Deployment, rate: float, seconds: float) -> dict[str, Any]:
    """Run the load generator process to the end; its records and CPU time."""
    out = deployment.directory / "filings.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--generate", str(deployment.web_port)]
    cmd += [str(rate), str(seconds), str(out)]
    process_log = deployment.directory / "generator.log"
    process = spawn(cmd, process_log)
    if process.wait() != 0:
        raise RuntimeError(f"load generator failed:\n{tail(process_log)}")
    return dict(json.loads(out.read_text()))


def wait_delivered(deployment: Deployment, records: list[dict[str, Any]]) -> float:
    """Until every e-mail of the 201s has arrived, or RECEIPT_MAX_S after the last 201."""
    wanted = {(kind, r["reference"]) for r in records if r["status"] == 201 for kind in KINDS}
    last = max((r["done"] for r in records if r["status"] == 201), default=time.monotonic())
    while time.monotonic() < last + RECEIPT_MAX_S + 1:
        if wanted.issubset(read_arrivals(deployment.arrivals_file)):
            break
        time.sleep(0.5)
    return time.monotonic()


def wait_quiet(limit: float, timeout: float) -> float:
    """Wait (up to `timeout` s) until the rest of the machine uses less than `limit` cores,
    sampled over 1 s; the last sample. The run goes ahead either way; `other` CPU tells."""
    deadline = time.monotonic() + timeout
    while True:
        before, at = machine_busy(), time.monotonic()
        time.sleep(1.0)
        busy = (machine_busy() - before) / (time.monotonic() - at)
        if busy < limit or time.monotonic() > deadline:
            return round(busy, 2)
        time.sleep(2.0)


def run_scenario(scenario: Scenario, rate: float, seconds: float, base: Path) -> dict[str, Any]:
    directory = base / scenario.name
    directory.mkdir()
    db = Database(scenario.db, directory)
    deployment = Deployment(directory, db)
    try:
        deployment.start(scenario)
        warm_up(deployment)
        time.sleep(2)  # the warm-up's last notices recorded
        cpu_start, at_start = deployment.cpu(), time.monotonic()
        generated = generate(deployment, rate, seconds)
        cpu_load, at_load = deployment.cpu(), time.monotonic()
        at_end = wait_delivered(deployment, generated["records"])
        cpu_end = deployment.cpu()
        stored = db.notices()
    finally:
        deployment.stop()
        db.close()
    arrivals = read_arrivals(deployment.arrivals_file)
    result = summarise(generated, arrivals, rate, seconds)
    result.update(scenario=scenario.name, database=db.description, stored=stored)
    result["web_processes"], result["embedded_worker"] = (
        scenario.web_workers,
        scenario.embedded_worker,
    )
    result["cpu"] = cpu_report(cpu_start, cpu_load, cpu_end, generated["cpu_seconds"])
    result["cpu"]["load_seconds"] = round(at_load - at_start, 1)
    result["cpu"]["drain_seconds"] = round(at_end - at_load, 1)
    result["web_cpu_ms_per_filing"] = round(
        result["cpu"]["total"]["web"] * 1000 / max(result["filed"], 1), 2
    )
    result["web_cpu_ms_per_filing_load"] = round(
        result["cpu"]["load"]["web"] * 1000 / max(result["filed"], 1), 2
    )
    return result


# --- figures -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank; None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float], scale: float, digits: int) -> dict[str, float | None]:
    """p50, p99 and max; an infinite value (an e-mail that never arrived) shows as None."""

    def r(v: float | None) -> float | None:
        return None if v is None or math.isinf(v) else round(v * scale, digits)

    return {
        "p50": r(percentile(values, 0.5)),
        "p99": r(percentile(values, 0.99)),
        "max": r(max(values) if values else None),
    }


def summarise(
    generated: dict[str, Any], arrivals: dict[tuple[str, str], float], rate: float, seconds: float
) -> dict[str, Any]:
    records = generated["records"]
    ok = [r for r in records if r["status"] == 201]
    errors = [r for r in records if r["status"] != 201]
    span = max((r["done"] for r in ok), default=generated["t0"]) - generated["t0"]
    out: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "sent": len(records),
        "filed": len(ok),
        "answered_per_second": round(len(ok) / max(span, 1e-9), 1),
        "errors": len(errors),
        "error_samples": sorted({r["detail"] for r in errors})[:5],
        "filing_ms": spread([r["done"] - r["scheduled"] for r in ok], 1000, 1),
        # How late the generator itself sent (its own lag, part of the latency above).
        "send_lag_ms": spread([r["sent"] - r["scheduled"] for r in records], 1000, 1),
    }
    for kind, key in (("receipt", "receipt"), ("verification_code", "code")):
        # From the 201 to the arrival; infinite for an e-mail not in by the end of the run.
        delays = [arrivals.get((kind, r["reference"]), math.inf) - r["done"] for r in ok]
        delivered = [d for d in delays if not math.isinf(d)]
        out[f"{key}_s"] = spread(delays, 1, 2)
        out[f"{key}_s"]["max_delivered"] = round(max(delivered), 2) if delivered else None
        out[f"{key}_delivered"] = len(delivered)
        out[f"{key}_undelivered_60s"] = sum(1 for d in delays if d > RECEIPT_MAX_S)
    return out


def cpu_report(
    start: dict[str, float], load: dict[str, float], end: dict[str, float], generator: float
) -> dict[str, Any]:
    """CPU seconds of each party during the load and the drain after it; `other` is what the
    rest of the machine used meanwhile (other jobs on the shared cores)."""

    def phase(a: dict[str, float], b: dict[str, float], gen: float) -> dict[str, float]:
        used = {k: b[k] - a[k] for k in ("web", "worker", "postgres", "sink", "bench")}
        used["generator"] = gen
        used["other"] = max(0.0, (b["machine"] - a["machine"]) - sum(used.values()))
        return {k: round(v, 1) for k, v in used.items()}

    out = {"load": phase(start, load, generator), "drain": phase(load, end, 0.0)}
    out["total"] = {k: round(out["load"][k] + out["drain"][k], 1) for k in out["load"]}
    return out


def check(result: dict[str, Any]) -> list[dict[str, str]]:
    name = result["scenario"]
    p99, receipt = result["filing_ms"]["p99"], result["receipt_s"]
    rows = [
        (f"{name}: no errors", result["errors"] == 0, f"{result['errors']} errors"),
        (
            f"{name}: filing p99 < {FILING_P99_MS:g} ms",
            p99 is not None and p99 < FILING_P99_MS,
            f"{p99} ms",
        ),
        (
            f"{name}: receipt delay p99 ≤ {RECEIPT_P99_S:g} s",
            receipt["p99"] is not None and receipt["p99"] <= RECEIPT_P99_S,
            "never" if receipt["p99"] is None else f"{receipt['p99']} s",
        ),
        (
            f"{name}: every receipt within {RECEIPT_MAX_S:g} s",
            result["filed"] > 0 and result["receipt_undelivered_60s"] == 0,
            f"{result['receipt_undelivered_60s']} of {result['filed']} later or never",
        ),
    ]
    return [
        {"target": t, "result": "PASS" if ok else "FAIL", "detail": detail}
        for t, ok, detail in rows
    ]


# --- report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "app"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "git": head + (" + uncommitted changes in app/" if dirty else ""),
    }


def fmt(spread_: dict[str, Any]) -> str:
    """p50 / p99 / max; "never" where that rank's e-mail had not arrived by the end."""
    shown = ["never" if spread_[k] is None else spread_[k] for k in ("p50", "p99", "max")]
    return " / ".join(str(v) for v in shown)


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; git {m['git']}",
        *(f"{r['scenario']}: {r['database']}" for r in report["results"]),
        "",
        "| scenario | rate | filed | answered/s | errors | filing ms p50 / p99 / max "
        "| receipt s p50 / p99 / max | receipts > 60 s | code s p50 / p99 / max | codes > 60 s "
        "| CPU s: web / worker / postgres / generator / sink / other | web CPU ms/filing |",
        "|---|---:|---:|---:|---:|---|---|---:|---|---:|---|---:|",
    ]
    for r in report["results"]:
        c = r["cpu"]["total"]
        lines.append(
            f"| {r['scenario']} | {r['rate']:g}/s × {r['seconds']:g} s | {r['filed']} "
            f"| {r['answered_per_second']} | {r['errors']} | {fmt(r['filing_ms'])} "
            f"| {fmt(r['receipt_s'])} | {r['receipt_undelivered_60s']} | {fmt(r['code_s'])} "
            f"| {r['code_undelivered_60s']} | {c['web']} / {c['worker']} / {c['postgres']} "
            f"/ {c['generator']} / {c['sink']} / {c['other']} | {r['web_cpu_ms_per_filing']} |"
        )
    lines += ["", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['result']} | {t['detail']} |" for t in report["targets"]]
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def internal(argv: list[str]) -> int | None:
    """The child processes of a run: the SMTP sink and the load generator."""
    if argv[:1] == ["--smtp-sink"]:
        return run_sink(int(argv[1]), argv[2])
    if argv[:1] == ["--generate"]:
        return run_generator(int(argv[1]), float(argv[2]), float(argv[3]), argv[4])
    return None


def main() -> int:
    if (code := internal(sys.argv[1:])) is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--rate", type=float, help="filings/s (default: 50 embedded, 100 pg)")
    parser.add_argument("--seconds", type=float, default=180.0, help="seconds of load")
    parser.add_argument(
        "--max-other", type=float, default=0.3, help="cores the rest of the machine may use"
    )
    parser.add_argument(
        "--idle-wait", type=float, default=120.0, help="seconds to wait for a quieter machine"
    )
    parser.add_argument("--keep", action="store_true", help="keep databases and logs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    base = Path(tempfile.mkdtemp(prefix="intake-flood-"))
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "results": [],
    }
    try:
        for name in names:
            scenario = SCENARIOS[name]
            rate = args.rate or scenario.rate
            busy = wait_quiet(args.max_other, args.idle_wait)
            log(f"{name}: {rate:g} filings/s for {args.seconds:g} s (machine busy: {busy} cores)")
            result = run_scenario(scenario, rate, args.seconds, base)
            result["busy_before"] = busy
            report["results"].append(result)
            log(json.dumps(result, ensure_ascii=False))
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    report["targets"] = [t for r in report["results"] for t in check(r)]
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else table(report))
    return 1 if any(t["result"] == "FAIL" for t in report["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
