"""Search by subject at 1,000,000 requests on SQLite: median and p99 of a search by e-mail.

The script builds a fresh SQLite database with `app.migrate.upgrade` and bulk-inserts the
synthetic requests of `sla_bench.py` with one subject party each (SQLAlchemy Core `insert()`
executemany). People file more than once: the subjects are drawn from `rows * 0.7` synthetic
people, so a subject has one to several requests. The party's blind indexes are computed
with the tests' data key, as filing would; the encrypted columns hold a fixed placeholder (the
search never decrypts). Then it times `search_requests` (the service behind /staff/search and
POST /v1/staff/search) for e-mails of people who exist and who do not, each in its own
session with the commit of its access-log row, as a page does.

    .venv/bin/python bench/search_bench.py                     # 1,000,000 rows (~4 min)
    .venv/bin/python bench/search_bench.py --rows 10000 --json

Synthetic data only: addresses under bench.invalid. Not part of the test run. Exits 1 when a
target fails.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sla_bench import (
    BATCH,
    NOW,
    TEST_KEY,
    machine,
    runtime_for,
    stats,
    synthetic_rows,
)

from app.calendar import load_calendar
from app.core.crypto import Vault
from app.migrate import upgrade
from app.models.request import Party, Request
from app.models.staff import Role, Staff
from app.services.requests.search import SubjectSearch, search_requests
from app.settings import Settings

SEARCH_MS = 50.0
TARGET_ROWS = 1_000_000
PEOPLE_SHARE = 0.7
PLACEHOLDER = "bench-placeholder-ciphertext"


def email_of(person: int) -> str:
    return f"person{person:07d}@bench.invalid"


def build_database(path: Path, rows: int, seed: int) -> float:
    url = f"sqlite:///{path}"
    started = time.perf_counter()
    upgrade(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=MEMORY")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-524288")
        cur.close()

    s = Settings(env="test", data_key=TEST_KEY)
    calendar = load_calendar(s.calendar_first_year, s.calendar_last_year, s.holiday_file)
    vault = Vault.from_text(TEST_KEY, scrub=lambda text: text)
    rng = random.Random(seed + 1)
    people = max(1, int(rows * PEOPLE_SHARE))
    staff = {
        "id": 1, "name": "벤치 검색", "role": Role.SECURITY.value, "email": None,
        "active": True, "created_at": NOW, "revoked_at": None,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Staff.__table__), [staff])  # type: ignore[attr-defined]
        requests: list[dict[str, Any]] = []
        parties: list[dict[str, Any]] = []
        req_stmt = insert(Request.__table__)  # type: ignore[attr-defined]
        party_stmt = insert(Party.__table__)  # type: ignore[attr-defined]
        for i, row in enumerate(synthetic_rows(rows, calendar, seed), start=1):
            row["id"] = i
            requests.append(row)
            person = rng.randrange(people)
            parties.append(
                {
                    "request_id": i, "role": "subject", "relationship": "self",
                    "name_enc": PLACEHOLDER, "birth_date_enc": PLACEHOLDER,
                    "email_enc": PLACEHOLDER, "phone_enc": None,
                    "name_bidx": vault.blind_index(f"가상 {person}", field="name"),
                    "email_bidx": vault.blind_index(email_of(person), field="email"),
                    "phone_bidx": None,
                }
            )  # fmt: skip
            if len(requests) == BATCH:
                conn.execute(req_stmt, requests)
                conn.execute(party_stmt, parties)
                requests.clear()
                parties.clear()
        if requests:
            conn.execute(req_stmt, requests)
            conn.execute(party_stmt, parties)
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
    return time.perf_counter() - started


def bench(rows: int, directory: Path, reps: int, seed: int) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "search.db"
    print(f"building {rows:,} requests ...", file=sys.stderr, flush=True)
    build_s = build_database(db, rows, seed)
    rt = runtime_for(directory, db)
    people = max(1, int(rows * PEOPLE_SHARE))
    rng = random.Random(seed + 2)
    with Session(rt.engine) as session:
        staff = session.exec(select(Staff)).one()
    found: list[int] = []

    def one(email: str) -> int:
        with Session(rt.engine) as session:
            query = SubjectSearch(by="email", value=email, purpose="벤치마크")
            result = search_requests(session, rt, staff, query, "127.0.0.1")
            session.commit()
            return len(result.items)

    one(email_of(0))  # warm-up: statement compilation, not counted
    samples: list[float] = []
    for n in range(reps):
        # Every other search is for someone who never filed: the index answers "none".
        email = email_of(rng.randrange(people)) if n % 2 == 0 else f"nobody{n}@bench.invalid"
        start = time.perf_counter()
        hits = one(email)
        samples.append(time.perf_counter() - start)
        if n % 2 == 0:
            found.append(hits)
    with Session(rt.engine) as session:
        plan = (
            session.connection()
            .exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT request.id FROM request JOIN party "
                "ON party.request_id = request.id WHERE party.email_bidx = 'x' "
                "ORDER BY request.received_at DESC, request.id DESC LIMIT 101"
            )
            .all()
        )
    rt.engine.dispose()
    return {
        "rows": rows,
        "build_s": round(build_s, 1),
        "search": stats(samples),
        "hits_per_existing_subject": {"min": min(found), "max": max(found)},
        "plan": [str(r[-1]) for r in plan],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261215)
    parser.add_argument("--db-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = Path(args.db_dir) if args.db_dir else Path(tempfile.mkdtemp(prefix="search-bench-"))
    try:
        result = bench(args.rows, base / f"rows-{args.rows}", args.reps, args.seed)
    finally:
        if not args.db_dir:
            shutil.rmtree(base, ignore_errors=True)
    slowest = max(result["search"]["median_ms"], result["search"]["p99_ms"])
    ok = slowest < SEARCH_MS if args.rows >= TARGET_ROWS else None
    verdict = {None: "n/a (below 1,000,000 rows)", True: "PASS", False: "FAIL"}[ok]
    if args.json:
        print(json.dumps({"machine": machine(), "result": result, "target": verdict}, indent=2))
    else:
        s = result["search"]
        print(f"rows {result['rows']:,}, built in {result['build_s']} s")
        print(f"search by e-mail: median {s['median_ms']} ms, p99 {s['p99_ms']} ms ({s['n']} runs)")
        print(f"plan: {'; '.join(result['plan'])}")
        print(f"target: median and p99 < {SEARCH_MS:.0f} ms at 1,000,000 rows: {verdict}")
    return 1 if ok is False else 0


if __name__ == "__main__":
    sys.exit(main())
