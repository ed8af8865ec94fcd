"""The outbox draining a backlog: CPU per delivered e-mail, and e-mails per second.

N e-mail notices (the receipts and one-time codes of N/2 synthetic self filings) are queued
on a fresh database, then a worker process drains them with `Outbox.run_once` into a local
SMTP sink (aiosmtpd, its own process, as in `intake_bench.py`). The figure that matters on a
shared machine is **process CPU time** per delivered e-mail: the worker's own (user + system,
`time.process_time`), PostgreSQL's (the server and its backends, from /proc) and the sink's.
Wall time and e-mails/s are reported too, but they move with whatever else the machine runs.

The worker's first `run_once` (imports, the first SMTP connection, the first batch) is not
timed. The rest of the backlog is, until `run_once` finds nothing due.

`--root` runs the drain with another checkout's `app` (e.g. a `git worktree` of an older
commit) on its own fresh database, side by side with this one; the schema must be the same.
The backlog is always queued with this checkout's code.

    .venv/bin/python bench/outbox_drain.py                             # both databases
    .venv/bin/python bench/outbox_drain.py --db postgres --notices 6000
    .venv/bin/python bench/outbox_drain.py --root . --root ../rd-before  # after, before
    .venv/bin/python bench/outbox_drain.py --db postgres --profile      # cProfile, top 25

Only synthetic people. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The drain child imports `app` from the checkout under test.
sys.path.insert(0, os.environ.get("OUTBOX_DRAIN_ROOT") or str(ROOT))

SETTLE_SECONDS = 0.5  # for PostgreSQL to reap the backend of a finished drain


# --- the drain (a child process: `--drain`, with OUTBOX_DRAIN_ROOT and the service env) ---------


def drain(profile: str | None) -> int:
    from sqlalchemy import text

    from app.runtime import build_runtime
    from app.services.notices.outbox import Outbox
    from app.settings import Settings

    rt = build_runtime(Settings())
    outbox = Outbox(rt)
    outbox.run_once()  # warm-up: imports, the SMTP connection, the first batch

    def delivered() -> int:
        with rt.engine.connect() as conn:
            query = "SELECT count(*) FROM notice WHERE status = 'delivered'"
            return int(conn.execute(text(query)).scalar_one())

    first = delivered()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    passes = 0
    while outbox.run_once():
        passes += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile or "")
    outbox.close()
    done = delivered()
    with rt.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM notice WHERE status <> 'delivered'"))
        pending = int(left.scalar_one())
    rt.engine.dispose()
    out = {"timed": done - first, "cpu": cpu, "wall": wall, "passes": passes, "left": pending}
    print(json.dumps(out))
    return 0


# --- queueing the backlog (this checkout) -------------------------------------------------------


def queue_backlog(url: str, data_dir: Path, filings: int) -> None:
    """`filings` self filings through the intake service: two e-mail notices each."""
    from datetime import UTC, datetime

    from intake_bench import body

    from app.db import transaction
    from app.models.request_api import RequestCreate
    from app.runtime import build_runtime
    from app.services.intake.filing import FilingContext, file_request
    from app.settings import Settings

    rt = build_runtime(Settings(**service_settings(url, data_dir, smtp_port=1)))
    try:
        for n in range(filings):
            payload = RequestCreate.model_validate_json(body(n))
            ctx = FilingContext(
                channel="api",
                received_at=datetime.now(UTC),
                actor="bench",
                idempotency_scope="bench",
                idempotency_key=None,
            )
            with transaction(rt.engine) as session:
                file_request(session, rt, payload, ctx)
    finally:
        rt.engine.dispose()


def service_settings(url: str, data_dir: Path, smtp_port: int) -> dict[str, Any]:
    from intake_bench import TEST_KEY

    return {
        "env": "test",
        "data_key": TEST_KEY,
        "database_url": url,
        "data_dir": data_dir,
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "log_level": "warning",
    }


def child_env(settings: dict[str, Any], root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env.update({f"RIGHTSDESK_{k.upper()}": str(v) for k, v in settings.items()})
    env.update(OUTBOX_DRAIN_ROOT=str(root), PYTHONPATH=str(root))
    return env


# --- one run ------------------------------------------------------------------------------------


def run(db_kind: str, root: Path, notices: int, base: Path, profile: bool) -> dict[str, Any]:
    from intake_bench import Database, free_port, spawn, stop, tree_cpu, wait_port

    directory = Path(tempfile.mkdtemp(prefix=f"{db_kind}-", dir=base))
    db = Database(db_kind, directory)
    sink = None
    try:
        queue_backlog(db.url, directory / "data", notices // 2)
        port = free_port()
        arrivals = directory / "arrivals.txt"
        sink_cmd = [sys.executable, str(HERE / "intake_bench.py"), "--smtp-sink", str(port)]
        sink = spawn([*sink_cmd, str(arrivals)], directory / "sink.log")
        wait_port(port)
        env = child_env(service_settings(db.url, directory / "data", port), root)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--drain"]
        stats = directory / "drain.prof"
        if profile:
            cmd += ["--profile", str(stats)]
        pg0, sink0 = tree_cpu(db.pid), tree_cpu(sink.pid)
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
        time.sleep(SETTLE_SECONDS)
        pg, sink_cpu = tree_cpu(db.pid) - pg0, tree_cpu(sink.pid) - sink0
        if done.returncode != 0:
            raise RuntimeError(f"the drain failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        received = len(arrivals.read_text().splitlines()) if arrivals.exists() else 0
        result.update(db=db_kind, root=str(root), postgres_cpu=pg, sink_cpu=sink_cpu)
        result.update(queued=notices // 2 * 2, received=received)
        if profile:
            result["profile"] = top_functions(stats)
        return result
    finally:
        stop(sink)
        db.close()


def top_functions(path: Path, count: int = 25) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(r"app/|smtplib|email/|sqlalchemy/orm/session", count)
    return out.getvalue()


def row(r: dict[str, Any]) -> str:
    n = max(r["timed"], 1)
    ms = 1000 / n
    return (
        f"| {r['db']} | {Path(r['root']).name} | {r['timed']:,} | {r['cpu'] * ms:.2f} | "
        f"{r['postgres_cpu'] * ms:.2f} | {r['sink_cpu'] * ms:.2f} | "
        f"{r['timed'] / r['wall']:.0f} | {n / r['cpu']:.0f} | {r['left']} | {r['received']:,} |"
    )


HEADER = (
    "| db | checkout | e-mails timed | worker CPU ms / e-mail | PostgreSQL CPU ms / e-mail | "
    "sink CPU ms / e-mail | e-mails/s (wall) | e-mails per worker CPU s | not delivered | "
    "received by the sink |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> int:
    if sys.argv[1:2] == ["--drain"]:
        profile = sys.argv[3] if sys.argv[2:3] == ["--profile"] else None
        return drain(profile)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--notices", type=int, default=4000, help="e-mails queued (even)")
    parser.add_argument("--root", action="append", type=Path, help="checkout to drain with")
    parser.add_argument("--profile", action="store_true", help="cProfile the drain")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    roots = [r.resolve() for r in (args.root or [ROOT])]
    kinds = ["sqlite", "postgres"] if args.db == "all" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="outbox-drain-") as base:
        for kind in kinds:
            for root in roots:
                load = Path("/proc/loadavg").read_text().split()[:3]
                print(f"{kind} {root.name}: load {' '.join(load)}", file=sys.stderr, flush=True)
                result = run(kind, root, args.notices, Path(base), args.profile)
                result["loadavg_before"] = load
                results.append(result)
                print(
                    json.dumps({k: v for k, v in result.items() if k != "profile"}),
                    file=sys.stderr,
                    flush=True,
                )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(HEADER)
    for r in results:
        print(row(r))
    for r in results:
        if "profile" in r:
            print(f"\n{r['db']} {Path(r['root']).name}:\n{r['profile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
