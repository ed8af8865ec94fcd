"""Median and p99 of the SLA operations on a synthetic database of 10,000 and 1,000,000 requests.

For each size the script builds a fresh SQLite database with `app.migrate.upgrade` and
bulk-inserts synthetic requests with SQLAlchemy Core `insert()` executemany. It does not go
through the API. Then it times, with `time.perf_counter`:

- the overdue queue page: `list_queue(QueueFilter(status=[], sla="overdue", limit=50))`
- the dashboard: `summary()`
- a full reminder sweep: `sweep()`. The first (cold) run queues the reminders and is timed on
  its own. The re-runs must queue nothing.

It also measures the sweep's peak traced Python memory (`tracemalloc`) for a cold run and a
re-run, and checks the targets of the SLA-operations issue. It exits 1 when a target fails.

    .venv/bin/python bench/sla_bench.py                      # 10,000 and 1,000,000 rows (~4 min)
    .venv/bin/python bench/sla_bench.py --rows 10000 --json  # quick, machine-readable

Only synthetic data is used: no parties and no personal data. Staff names and e-mail
addresses are made up under bench.invalid. Not part of the test run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.calendar import load_calendar
from app.migrate import upgrade
from app.models.notice import Notice
from app.models.request import Request
from app.models.staff import Role, Staff
from app.runtime import Runtime, build_runtime
from app.services.requests.queue import QueueFilter, list_queue
from app.services.sla.reminders import sweep
from app.services.sla.summary import summary
from app.settings import Settings
from app.workflows.deadlines import (
    HolidayCalendar,
    deadline_from_date,
    kst_date,
    period_for,
    target_date,
)

# The same fixed key as the tests (tests/conftest.py): never a real deployment's key.
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
# Tuesday 2026-12-15 10:00 KST, the tests' T0: "today" for the whole synthetic history.
NOW = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
HISTORY_DAYS = 730
BATCH = 50_000

# Targets from the issue (the sizes they apply to are the largest and smallest run).
QUEUE_MS = 20.0
SUMMARY_MS = 200.0
QUEUE_GROWTH = 2.0
TARGET_ROWS = 1_000_000
# The sweep holds one page of requests at a time, so its peak memory must not follow the
# number of rows. Measured with pages of MEMORY_PAGE requests, which the smallest database fills
# too (at 500 a page, 10,000 rows are less than one page), so the sizes compare like for like.
MEMORY_PAGE = 50
SWEEP_MEMORY_GROWTH = 1.5

TYPES = [
    ("access", 45),
    ("deletion", 22),
    ("correction", 10),
    ("suspension", 8),
    ("consent_withdrawal", 13),
    ("objection", 2),
]
SERVICES = [("uno", 35), ("smartcrm", 30), ("webersoft", 20), ("carecrm", 15)]
CHANNELS = [
    ("web", 55),
    ("email", 15),
    ("channeltalk", 12),
    ("api", 6),
    ("phone", 5),
    ("letter", 3),
    ("in_person", 2),
    ("fax", 2),
]
OPEN_STATUSES = [
    ("identity_pending", 25),
    ("awaiting_requester", 10),
    ("in_review", 35),
    ("postponed", 5),
    ("awaiting_approval", 10),
    ("executing", 15),
]
# (status, outcome, weight) of closed requests.
CLOSED_STATUSES = [
    ("completed", "granted", 70),
    ("completed", "partially_granted", 10),
    ("completed", "refused", 6),
    ("rejected", None, 6),
    ("withdrawn", None, 8),
]
BREACHED_SHARE = 0.03  # closed after the legal deadline
STUCK_SHARE = 0.012  # past their deadline and still open (the overdue backlog)
STAFF = 12  # case handlers; the first 8 have an e-mail address, the rest use the team's
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- the synthetic database --------------------------------------------------------------------


def _picker(rng: random.Random, choices: list[tuple[Any, ...]]) -> Callable[[], Any]:
    values = [c[:-1] if len(c) > 2 else c[0] for c in choices]
    weights = [c[-1] for c in choices]
    cum = list(itertools.accumulate(weights))

    def pick() -> Any:
        return rng.choices(values, cum_weights=cum)[0]

    return pick


def _reference(i: int, received_on: date) -> str:
    """DSR-YYMM-XXXXXXXX, unique by construction: the row number times an odd constant modulo
    2**40 is a bijection, spelled in Crockford base32 like the real ones."""
    n = (i * 0x9E3779B97F) % (1 << 40)
    tail = "".join(CROCKFORD[(n >> (5 * k)) & 31] for k in range(7, -1, -1))
    return f"DSR-{received_on:%y%m}-{tail}"


def synthetic_rows(rows: int, calendar: HolidayCalendar, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    pick_type, pick_service = _picker(rng, TYPES), _picker(rng, SERVICES)
    pick_channel, pick_open = _picker(rng, CHANNELS), _picker(rng, OPEN_STATUSES)
    pick_closed = _picker(rng, CLOSED_STATUSES)
    today = kst_date(NOW)
    start = NOW - timedelta(days=HISTORY_DAYS)
    span = HISTORY_DAYS * 86400
    due: dict[tuple[date, int], tuple[date, date, bool]] = {}
    for i in range(1, rows + 1):
        received_at = start + timedelta(seconds=rng.randrange(span))
        received_on = kst_date(received_at)
        rtype = pick_type()
        period = period_for(rtype)
        key = (received_on, period)
        if key not in due:
            d = deadline_from_date(received_on, period, calendar)
            due[key] = (d.due_on, target_date(d.due_on, 3, calendar), d.beyond_calendar)
        legal_due_on, target_due_on, unconfirmed = due[key]
        # When it will close (or would have): mostly well inside the legal period; a few late.
        legal_days = (legal_due_on - received_on).days
        if rng.random() < BREACHED_SHARE:
            days = legal_days + rng.randint(1, 15)
        else:
            days = min(legal_days, max(0, int(rng.triangular(0, legal_days, 6))))
        stuck = legal_due_on < today and rng.random() < STUCK_SHARE
        closed_at = received_at + timedelta(days=days, hours=rng.uniform(0, 6))
        is_open = stuck or closed_at >= NOW
        assignee: int | None = rng.randint(1, STAFF)
        if is_open:
            status, outcome = pick_open(), None
            if rng.random() < (0.7 if NOW - received_at < timedelta(hours=24) else 0.2):
                assignee = None
            closed_at_v, closed_on, days_to_close = None, None, None
            updated_at = received_at + (NOW - received_at) * rng.random()
        else:
            status, outcome = pick_closed()
            if status == "withdrawn" and rng.random() < 0.3:
                assignee = None
            closed_at_v = closed_at
            closed_on = kst_date(closed_at)
            days_to_close = (closed_on - received_on).days
            updated_at = closed_at
        yield {
            "reference": _reference(i, received_on),
            "type": rtype,
            "service": pick_service(),
            "channel": pick_channel(),
            "status": status,
            "outcome": outcome,
            "resume_status": "in_review" if status == "awaiting_requester" else None,
            "received_at": received_at,
            "legal_due_on": legal_due_on,
            "target_due_on": target_due_on,
            "period_days": period,
            "deadline_unconfirmed": unconfirmed,
            "assignee_id": assignee,
            "parent_id": None,
            "version": 1,
            "access_code_hash": rng.randbytes(32).hex(),
            "items": [],
            "delivery": "electronic" if rng.random() < 0.9 else "mail",
            "notify_by": "email" if rng.random() < 0.8 else "sms",
            "details_enc": None,
            "correction_enc": None,
            "created_at": received_at,
            "updated_at": updated_at,
            "closed_at": closed_at_v,
            "closed_on": closed_on,
            "days_to_close": days_to_close,
        }


def build_database(path: Path, rows: int, calendar: HolidayCalendar, seed: int) -> float:
    """Migrate a fresh file and load `rows` requests; returns the seconds it took."""
    url = f"sqlite:///{path}"
    started = time.perf_counter()
    upgrade(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        # A throwaway file: no durability needed while loading it.
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=MEMORY")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-524288")  # 512 MiB
        cur.close()

    staff = [
        {
            "id": n,
            "name": f"벤치 담당 {n:02d}",
            "role": Role.AGENT.value if n > 2 else Role.SECURITY.value,
            "email": f"agent{n:02d}@bench.invalid" if n <= 8 else None,
            "active": True,
            "created_at": NOW - timedelta(days=HISTORY_DAYS + 30),
            "revoked_at": None,
        }
        for n in range(1, STAFF + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Staff.__table__), staff)  # type: ignore[attr-defined]
        batch: list[dict[str, Any]] = []
        stmt = insert(Request.__table__)  # type: ignore[attr-defined]
        for row in synthetic_rows(rows, calendar, seed):
            batch.append(row)
            if len(batch) == BATCH:
                conn.execute(stmt, batch)
                batch.clear()
        if batch:
            conn.execute(stmt, batch)
    engine.dispose()
    # The app's engine turns on WAL at connect; start from a clean, checkpointed file.
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
    return time.perf_counter() - started


# --- measuring ---------------------------------------------------------------------------------


def p99(samples: list[float]) -> float:
    """Nearest rank: with fewer than 100 samples this is the slowest one."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def stats(samples: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p99_ms": round(p99(ms), 2),
    }


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    fn()  # warm-up: statement compilation and caches, not counted
    out: list[float] = []
    result = None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - start)
    return out, result


def traced_peak(fn: Callable[[], Any], *, live: Engine | None = None) -> tuple[int, Any]:
    """Peak traced Python memory while fn runs. With `live`, a full garbage collection runs at
    each commit on that engine (the sweep commits once a page): the peak is then what the
    sweep holds, not the reference cycles that CPython's collector has not reached yet."""

    def collect(_conn: Any) -> None:
        gc.collect()

    if live is not None:
        event.listen(live, "commit", collect)
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()
        if live is not None:
            event.remove(live, "commit", collect)


def runtime_for(directory: Path, db: Path) -> Runtime:
    settings = Settings(
        env="test",
        data_dir=directory / "var",
        database_url=f"sqlite:///{db}",
        data_key=TEST_KEY,
        embedded_worker=False,
    )
    return build_runtime(settings, clock=lambda: NOW)


def reminders(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        n = s.scalar(select(func.count()).select_from(Notice).where(Notice.audience == "staff"))  # type: ignore[arg-type]
        return int(n or 0)


def bench_size(
    rows: int, directory: Path, calendar: HolidayCalendar, args: argparse.Namespace
) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "rightsdesk.db"
    for stale in directory.glob("rightsdesk.db*"):
        stale.unlink()
    log(f"{rows:,} rows: building {db}")
    load_s = build_database(db, rows, calendar, args.seed)
    pristine = directory / "pristine.db"
    shutil.copyfile(db, pristine)  # for the cold sweep's memory run
    log(f"{rows:,} rows: built in {load_s:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)")

    rt = runtime_for(directory, db)
    staff = Staff(id=1, name="bench", role=Role.AGENT.value)

    def queue() -> Any:
        with Session(rt.engine) as s:
            return list_queue(s, rt, QueueFilter(status=[], sla="overdue", limit=50), staff)

    def dash() -> Any:
        with Session(rt.engine) as s:
            return summary(s, rt)

    q_times, page = timed(queue, args.queue_reps)
    log(f"{rows:,} rows: queue {stats(q_times)}")
    s_times, dashboard = timed(dash, args.summary_reps)
    log(f"{rows:,} rows: summary {stats(s_times)}")

    start = time.perf_counter()
    cold = sweep(rt)
    cold_s = time.perf_counter() - start
    queued = reminders(rt)
    log(f"{rows:,} rows: cold sweep {cold_s:.2f} s, {cold.as_dict()}")
    rerun_times: list[float] = []
    rerun_queued = 0
    for _ in range(args.sweep_reps):
        start = time.perf_counter()
        again = sweep(rt)
        rerun_times.append(time.perf_counter() - start)
        rerun_queued += again.queued
    log(f"{rows:,} rows: sweep re-runs {stats(rerun_times)}, queued {rerun_queued}")
    sweep(rt, page_size=MEMORY_PAGE)  # warm the statement caches for this page size
    rerun_raw, _ = traced_peak(lambda: sweep(rt, page_size=MEMORY_PAGE))
    rerun_peak, _ = traced_peak(lambda: sweep(rt, page_size=MEMORY_PAGE), live=rt.engine)
    rerun_raw_default, _ = traced_peak(lambda: sweep(rt))
    rt.engine.dispose()

    # The cold sweep's memory, on the untouched copy (tracemalloc slows it, so not timed).
    db.unlink()
    for side in directory.glob("rightsdesk.db-*"):
        side.unlink()
    pristine.rename(db)
    rt2 = runtime_for(directory, db)
    cold_peak, cold2 = traced_peak(lambda: sweep(rt2, page_size=MEMORY_PAGE), live=rt2.engine)
    rt2.engine.dispose()
    log(
        f"{rows:,} rows: sweep peak traced memory, {MEMORY_PAGE} a page: live cold "
        f"{cold_peak / 2**20:.2f} MiB, live re-run {rerun_peak / 2**20:.2f} MiB, raw re-run "
        f"{rerun_raw / 2**20:.2f} MiB; 500 a page: raw re-run {rerun_raw_default / 2**20:.2f} MiB"
    )
    totals = dashboard["totals"]
    return {
        "rows": rows,
        "load_s": round(load_s, 1),
        "db_mib": round(db.stat().st_size / 2**20, 1),
        "open": totals["overdue"] + totals["due_soon"] + totals["on_track"],
        "sla_totals": totals,
        "unassigned_too_long": dashboard["unassigned_too_long"],
        "queue_page_items": len(page.items),
        "queue": stats(q_times),
        "summary": stats(s_times),
        "sweep_cold_s": round(cold_s, 2),
        "sweep_cold": cold.as_dict(),
        "sweep_cold_reminders_queued": queued,
        "sweep_cold_same_on_copy": cold2.as_dict() == cold.as_dict(),
        "sweep_rerun": stats(rerun_times),
        "sweep_rerun_queued": rerun_queued,
        "memory_page_size": MEMORY_PAGE,
        "sweep_cold_peak_mib": round(cold_peak / 2**20, 2),
        "sweep_rerun_peak_mib": round(rerun_peak / 2**20, 2),
        "sweep_rerun_raw_peak_mib": round(rerun_raw / 2**20, 2),
        "sweep_rerun_raw_peak_mib_500_a_page": round(rerun_raw_default / 2**20, 2),
    }


# --- targets and report ------------------------------------------------------------------------


def check(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    small, big = results[0], results[-1]
    at_target = big["rows"] >= TARGET_ROWS
    out: list[dict[str, Any]] = []

    def target(name: str, ok: bool | None, detail: str) -> None:
        out.append(
            {
                "target": name,
                "result": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
                "detail": detail,
            }
        )

    q, s = big["queue"], big["summary"]
    target(
        f"queue page median and p99 < {QUEUE_MS:g} ms at {big['rows']:,} rows",
        (q["p99_ms"] < QUEUE_MS) if at_target else None,
        f"median {q['median_ms']} ms, p99 {q['p99_ms']} ms",
    )
    target(
        f"summary median and p99 < {SUMMARY_MS:g} ms at {big['rows']:,} rows",
        (s["p99_ms"] < SUMMARY_MS) if at_target else None,
        f"median {s['median_ms']} ms, p99 {s['p99_ms']} ms",
    )
    ratio = q["median_ms"] / small["queue"]["median_ms"]
    target(
        f"queue median at {big['rows']:,} ≤ {QUEUE_GROWTH:g}× at {small['rows']:,} rows",
        (ratio <= QUEUE_GROWTH) if len(results) > 1 else None,
        f"{ratio:.2f}×",
    )
    target(
        "sweep re-runs queue nothing",
        all(r["sweep_rerun_queued"] == 0 and r["sweep_cold_same_on_copy"] for r in results),
        ", ".join(f"{r['rows']:,}: {r['sweep_rerun_queued']}" for r in results),
    )
    for kind in ("cold", "rerun"):
        key = f"sweep_{kind}_peak_mib"
        growth = big[key] / max(small[key], 0.01)
        target(
            f"sweep {'cold run' if kind == 'cold' else 're-run'} live peak memory at "
            f"{big['rows']:,} ≤ {SWEEP_MEMORY_GROWTH:g}× at {small['rows']:,} rows "
            f"({MEMORY_PAGE} a page)",
            (growth <= SWEEP_MEMORY_GROWTH) if len(results) > 1 else None,
            f"{small[key]} → {big[key]} MiB ({growth:.2f}×)",
        )
    return out


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def table(results: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    m = machine()
    lines = [
        f"{m['nproc']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, {m['platform']}",
        "",
        "| rows | open | overdue | queue page median / p99 | summary median / p99 "
        "| sweep cold | sweep re-run median / p99 "
        f"| sweep live peak, cold / re-run ({MEMORY_PAGE} a page) "
        f"| sweep raw peak, re-run ({MEMORY_PAGE} / 500 a page) |",
        "|-----:|-----:|--------:|------------------------:|---------------------:"
        "|-----------:|--------------------------:|-----:|-----:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['open']:,} | {r['sla_totals']['overdue']:,} "
            f"| {r['queue']['median_ms']:.1f} / {r['queue']['p99_ms']:.1f} ms "
            f"| {r['summary']['median_ms']:.1f} / {r['summary']['p99_ms']:.1f} ms "
            f"| {r['sweep_cold_s']:.1f} s ({r['sweep_cold_reminders_queued']:,} queued) "
            f"| {r['sweep_rerun']['median_ms']:.0f} / {r['sweep_rerun']['p99_ms']:.0f} ms "
            f"| {r['sweep_cold_peak_mib']:.2f} / {r['sweep_rerun_peak_mib']:.2f} MiB "
            f"| {r['sweep_rerun_raw_peak_mib']:.2f} / "
            f"{r['sweep_rerun_raw_peak_mib_500_a_page']:.2f} MiB |"
        )
    lines += ["", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['result']} | {t['detail']} |" for t in targets]
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10000,1000000", help="comma-separated sizes")
    parser.add_argument("--db-dir", default=None, help="where the databases go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--queue-reps", type=int, default=50)
    parser.add_argument("--summary-reps", type=int, default=20)
    parser.add_argument("--sweep-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261215)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    sizes = sorted(int(n.replace("_", "")) for n in args.rows.split(","))

    base = Path(args.db_dir) if args.db_dir else Path(tempfile.mkdtemp(prefix="sla-bench-"))
    s = Settings(env="test", data_key=TEST_KEY)
    calendar = load_calendar(s.calendar_first_year, s.calendar_last_year, s.holiday_file)
    try:
        results = [bench_size(n, base / f"rows-{n}", calendar, args) for n in sizes]
    finally:
        if not args.keep:
            for n in sizes:
                shutil.rmtree(base / f"rows-{n}", ignore_errors=True)
            if not args.db_dir:
                shutil.rmtree(base, ignore_errors=True)
    targets = check(results)
    if args.json:
        print(
            json.dumps(
                {"machine": machine(), "results": results, "targets": targets},
                indent=2,
                default=str,
            )
        )
    else:
        print(table(results, targets))
    return 1 if any(t["result"] == "FAIL" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
