"""Latency of the Channel Talk webhook under a stream of deliveries, over real HTTP.

The script builds the app with `create_app(Settings(...))` on a fresh SQLite database in a
temporary directory, migrated with `app.migrate.upgrade`, and serves it with uvicorn on a free
loopback port in a thread, as the tests' `live_server` does. There are no Channel Talk API
credentials and no embedded worker, so the queued replies stay in the outbox. One keep-alive
`httpx.Client` then POSTs the deliveries back to back to
`/v1/integrations/channeltalk/webhook?token=...`, in the envelope of
shared/reference/channeltalk.md §1.4. The mix is fixed by a seed:

- about 70 % unrelated customer messages ("결제 오류가 나요"), which are ignored;
- about 20 % rights requests, each in a chat of its own. Each files a request, queues a
  receipt and a one-time code for the e-mail address in the user's profile;
- about 10 % repeats of an earlier delivery, byte for byte. They are dropped as duplicates.

It times each POST on the client side, from the call to the parsed response, with
`time.perf_counter`. After the last response it polls the `inbound_event` table until no event
is pending or processing. Then it counts what was stored and filed, and checks the targets. It
exits 1 when a target fails.

    .venv/bin/python bench/webhook_latency.py                  # 2,000 deliveries (~20 s)
    .venv/bin/python bench/webhook_latency.py -n 500 --json    # quick, machine-readable
    .venv/bin/python bench/webhook_latency.py --database-url postgresql+psycopg://u:p@host/db

`--database-url` takes an empty database: the script migrates it to the head and leaves the
rows it wrote. Every person in the deliveries is made up (가상고객 names, example.com
addresses, 010-5550 numbers). Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.main import create_app
from app.migrate import upgrade
from app.models.channeltalk import InboundEvent
from app.models.notice import Notice
from app.models.request import Request
from app.routers.integrations import WEBHOOK_PATH
from app.settings import Settings
from app.workflows.chat_intent import Confidence, classify

# The same fixed key as the tests (tests/conftest.py): never a real deployment's key.
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
TOKEN = "bench-webhook-token"
CHANNEL_ID = "123456"

# Targets from the issue: the webhook answers "within milliseconds".
P50_MS = 10.0
P99_MS = 50.0

# Shares of the mix; the rest are unrelated messages.
RIGHTS_SHARE = 0.20
REPEAT_SHARE = 0.10
# Unrelated messages come from chats that each send a few.
MESSAGES_PER_CHAT = 3

UNRELATED = (
    "결제 오류가 나요",
    "배송이 언제 오나요?",
    "쿠폰이 적용이 안 돼요",
    "주문 취소하고 싶어요",
    "비밀번호를 잊어버렸어요",
    "영수증 발급해 주세요",
    "예약 시간을 바꾸고 싶어요",
    "환불은 언제 되나요?",
    "상품 재입고 문의드립니다",
    "안녕하세요, 상담 가능할까요?",
    "카드 결제가 두 번 됐어요",
    "앱이 자꾸 꺼져요",
)
# Each asks for exactly one right, clearly enough to be filed without a manager.
RIGHTS = (
    "제 개인정보를 삭제해 주세요. 회원 탈퇴도 원합니다.",
    "회사가 보유하고 있는 제 개인정보를 열람하고 싶습니다.",
    "제 개인정보 처리를 정지해 주세요.",
    "마케팅 수신 동의를 철회합니다.",
    "회원 정보에 잘못된 전화번호가 있어요. 정정해 주세요.",
    "회원 탈퇴 요청합니다.",
    "제 정보 열람 청구합니다",
    "개인정보 이용 동의를 철회하고 싶습니다.",
)

PENDING = ("pending", "processing")


# --- the deliveries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    kind: str  # unrelated | rights | repeat
    body: bytes


class Mix:
    """Deliveries in the §1.4 envelope, from a seeded generator (synthetic people only)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = 0
        self.sent: list[bytes] = []
        self.chat: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.chat_left = 0

    def _id(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"  # Channel ids look like 24 hex digits

    # Entity shapes as in §1.4, laid out densely so they read like the doc's example.
    # fmt: off
    def _new_chat(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self.people += 1
        n, now = self.people, int(time.time() * 1000)
        name, email, mobile = f"가상고객{n:05d}", f"bench.{n:05d}@example.com", f"+8210555{n:05d}"
        profile = {"name": name, "email": email, "mobileNumber": mobile}
        user: dict[str, Any] = {"id": self._id(), "channelId": CHANNEL_ID, "memberId": None,
                                "type": "lead", "member": False, **profile, "profile": profile,
                                "tags": [], "language": "ko", "createdAt": now, "updatedAt": now}
        chat = {"id": self._id(), "channelId": CHANNEL_ID, "userId": user["id"],
                "state": "opened", "assigneeId": None, "managerIds": [], "tags": [],
                "description": None, "openedAt": now, "createdAt": now, "updatedAt": now}
        return user, chat

    def _message(self, user: dict[str, Any], chat: dict[str, Any], text: str) -> bytes:
        now = int(time.time() * 1000)
        entity = {"id": self._id(), "channelId": CHANNEL_ID, "chatType": "userChat",
                  "chatId": chat["id"], "chatKey": f"userChat-{chat['id']}", "personType": "user",
                  "personId": user["id"], "requestId": None, "language": "ko", "createdAt": now,
                  "updatedAt": now, "version": 1, "blocks": [{"type": "text", "value": text}],
                  "plainText": text, "options": [], "state": "sent"}
        envelope = {"event": "push", "type": "message", "entity": entity,
                    "refers": {"user": user, "userChat": chat}}
        body = json.dumps(envelope, ensure_ascii=False).encode()
        self.sent.append(body)
        return body
    # fmt: on

    def unrelated(self) -> Delivery:
        if self.chat is None or self.chat_left == 0:
            self.chat, self.chat_left = self._new_chat(), MESSAGES_PER_CHAT
        self.chat_left -= 1
        return Delivery("unrelated", self._message(*self.chat, self.rng.choice(UNRELATED)))

    def rights(self) -> Delivery:
        return Delivery("rights", self._message(*self._new_chat(), self.rng.choice(RIGHTS)))

    def next(self) -> Delivery:
        roll = self.rng.random()
        if roll < REPEAT_SHARE and self.sent:
            return Delivery("repeat", self.rng.choice(self.sent))
        if roll < REPEAT_SHARE + RIGHTS_SHARE:
            return self.rights()
        return self.unrelated()


def check_texts() -> None:
    """The counts are checked against the mix, so the classifier must agree with it."""
    for text in RIGHTS:
        high = [i for i in classify(text) if i.confidence is Confidence.HIGH]
        if len(high) != 1:
            raise SystemExit(f"rights text no longer gives one HIGH intent: {text!r} {high}")
    for text in UNRELATED:
        if classify(text):
            raise SystemExit(f"unrelated text is now detected: {text!r}")


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port (tests/conftest.py live_server)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise SystemExit("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def build_app(database_url: str, data_dir: Path) -> FastAPI:
    upgrade(database_url)
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        data_key=TEST_KEY,
        channeltalk_webhook_token=TOKEN,
        channeltalk_service="uno",
        embedded_worker=False,
    )
    return create_app(settings)


# --- the run -----------------------------------------------------------------------------------


def count(engine: Engine, column: Any) -> Counter[Any]:
    """Rows of inbound_event by the column's value."""
    with Session(engine) as s:
        rows = s.execute(select(column, func.count()).group_by(column)).all()
    return Counter({value: n for value, n in rows})


def pending(engine: Engine) -> int:
    statuses = count(engine, InboundEvent.status)
    return sum(statuses[s] for s in PENDING)


@contextmanager
def sample_pending(engine: Engine, every: float = 0.2) -> Iterator[list[int]]:
    """Events stored but not processed yet, sampled while the deliveries are sent."""
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            samples.append(pending(engine))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def wait_processed(engine: Engine, timeout: float) -> tuple[float, int]:
    """Seconds until no stored event is pending or processing, and how many still are."""
    start = time.perf_counter()
    while True:
        left = pending(engine)
        elapsed = time.perf_counter() - start
        if left == 0 or elapsed > timeout:
            return elapsed, left
        time.sleep(0.01)


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest rank, so p99 of 2,000 samples is the 20th slowest."""
    rank = max(1, min(len(sorted_ms), round(q / 100 * len(sorted_ms) + 0.5)))
    return sorted_ms[rank - 1]


def run(args: argparse.Namespace, database_url: str, data_dir: Path) -> dict[str, Any]:
    log(f"migrating {make_url(database_url).render_as_string(hide_password=True)}")
    app = build_app(database_url, data_dir)
    engine: Engine = app.state.runtime.engine
    if count(engine, InboundEvent.status) or request_count(engine):
        raise SystemExit("the database already holds events or requests: give an empty one")

    mix = Mix(args.seed)
    # The warm-up has the same mix, so the first filing's one-off costs (statement compilation,
    # templates) are not timed.
    warmup = [mix.next() for _ in range(args.warmup)]
    deliveries = [mix.next() for _ in range(args.deliveries)]
    sent = Counter(d.kind for d in deliveries)
    sent_all = Counter(d.kind for d in warmup + deliveries)
    headers = {"Content-Type": "application/json"}
    url = f"{WEBHOOK_PATH}?token={TOKEN}"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    with serve(app) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        log(f"{base}: {args.warmup} warm-up deliveries, then {args.deliveries} timed")
        for d in warmup:
            client.post(url, content=d.body, headers=headers).raise_for_status()
        wait_processed(engine, args.drain_timeout)
        start = time.perf_counter()
        with sample_pending(engine) as backlog_samples:
            for d in deliveries:
                t0 = time.perf_counter()
                response = client.post(url, content=d.body, headers=headers)
                response.json()
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[response.status_code] += 1
        sending_s = time.perf_counter() - start
        backlog = pending(engine)
        drain_s, left = wait_processed(engine, args.drain_timeout)
        total_s = time.perf_counter() - start
        log(f"sent in {sending_s:.2f} s, {backlog} pending; all processed {drain_s:.2f} s later")

        by_status = count(engine, InboundEvent.status)
        by_outcome = count(engine, InboundEvent.outcome)
        requests = request_count(engine)
        notices = notice_counts(engine)
        version = engine.dialect.server_version_info or ()

    ordered = sorted(latencies)
    # A delivery arrives while the previous one is being processed: split by what that was.
    after: dict[str, list[float]] = {}
    for previous, ms in zip(deliveries, latencies[1:], strict=False):
        after.setdefault(previous.kind, []).append(ms)
    stored = sum(by_status.values())
    return {
        "database": make_url(database_url).get_backend_name(),
        "database_version": ".".join(map(str, version)),
        "deliveries": args.deliveries,
        "warmup": args.warmup,
        "seed": args.seed,
        "sent": dict(sent),
        "sent_with_warmup": dict(sent_all),
        "http_statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": {
            "p50": round(percentile(ordered, 50), 2),
            "p95": round(percentile(ordered, 95), 2),
            "p99": round(percentile(ordered, 99), 2),
            "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2),
        },
        "latency_ms_after": {
            kind: {
                "n": len(xs),
                "p50": round(percentile(sorted(xs), 50), 2),
                "p99": round(percentile(sorted(xs), 99), 2),
            }
            for kind, xs in sorted(after.items())
        },
        "sending_s": round(sending_s, 2),
        "throughput_per_s": round(args.deliveries / sending_s, 1),
        "backlog_peak": max(backlog_samples, default=backlog),
        "backlog_at_last_response": backlog,
        "processed_after_last_response_s": round(drain_s, 2),
        "processed_all_s": round(total_s, 2),
        "left_unprocessed": left,
        "events_stored": stored,
        "events_by_status": {str(k): v for k, v in by_status.items()},
        "events_by_outcome": {str(k): v for k, v in by_outcome.items()},
        "duplicates_dropped": args.warmup + args.deliveries - stored,
        "requests_filed": requests,
        "notices": notices,
    }


def request_count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Request)) or 0)


def notice_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        kind = col(Notice.kind)
        rows = s.execute(select(kind, func.count()).group_by(kind)).all()
    return {str(kind): int(n) for kind, n in rows}


# --- targets and report ------------------------------------------------------------------------


def check(r: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def target(name: str, ok: bool, detail: str) -> None:
        out.append({"target": name, "result": "PASS" if ok else "FAIL", "detail": detail})

    # Counts are over every delivery, the warm-up's included.
    lat, sent, outcomes = r["latency_ms"], r["sent_with_warmup"], r["events_by_outcome"]
    distinct = sent.get("unrelated", 0) + sent.get("rights", 0)
    target(f"webhook p50 < {P50_MS:g} ms", lat["p50"] < P50_MS, f"{lat['p50']} ms")
    target(f"webhook p99 < {P99_MS:g} ms", lat["p99"] < P99_MS, f"{lat['p99']} ms")
    target(
        "every delivery answered 200",
        r["http_statuses"] == {"200": r["deliveries"]},
        ", ".join(f"{k}: {v}" for k, v in r["http_statuses"].items()),
    )
    unfinished = r["left_unprocessed"] + r["events_by_status"].get("failed", 0)
    target(
        "every stored event processed (none pending, processing or failed)",
        unfinished == 0 and r["events_stored"] == distinct,
        f"{r['events_stored']} stored of {distinct} distinct, {unfinished} unfinished",
    )
    target(
        "requests filed == distinct rights messages",
        r["requests_filed"] == sent.get("rights", 0) == outcomes.get("filed", 0),
        f"{r['requests_filed']} filed, {sent.get('rights', 0)} sent",
    )
    target(
        "unrelated messages ignored",
        outcomes.get("ignored", 0) == sent.get("unrelated", 0),
        f"{outcomes.get('ignored', 0)} ignored, {sent.get('unrelated', 0)} sent",
    )
    target(
        "repeats dropped as duplicates",
        r["duplicates_dropped"] == sent.get("repeat", 0),
        f"{r['duplicates_dropped']} dropped, {sent.get('repeat', 0)} sent",
    )
    return out


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def table(r: dict[str, Any], targets: list[dict[str, Any]]) -> str:
    m, lat, sent = machine(), r["latency_ms"], r["sent"]
    lines = [
        f"{m['nproc']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, {m['platform']}",
        f"database: {r['database']} {r['database_version']}",
        "",
        "| deliveries (unrelated / rights / repeats) | p50 | p95 | p99 | max | throughput "
        "| pending: peak / at last response | all processed after last response |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
        f"| {r['deliveries']:,} ({sent.get('unrelated', 0)} / {sent.get('rights', 0)} / "
        f"{sent.get('repeat', 0)}) | {lat['p50']:.1f} ms | {lat['p95']:.1f} ms "
        f"| {lat['p99']:.1f} ms | {lat['max']:.1f} ms | {r['throughput_per_s']:,.0f} /s "
        f"| {r['backlog_peak']} / {r['backlog_at_last_response']} "
        f"| {r['processed_after_last_response_s']:.2f} s |",
        "",
        "latency after a delivery that was "
        + ", ".join(
            f"{kind}: p50 {v['p50']:.1f} / p99 {v['p99']:.1f} ms (n={v['n']})"
            for kind, v in r["latency_ms_after"].items()
        ),
        "",
        f"with the {r['warmup']} warm-up deliveries: sent {r['sent_with_warmup']}; events by "
        f"status {r['events_by_status']}, by outcome {r['events_by_outcome']}",
        f"requests filed: {r['requests_filed']}; notices queued: {r['notices']}",
        "",
        "| target | result | measured |",
        "|---|---|---|",
    ]
    lines += [f"| {t['target']} | {t['result']} | {t['detail']} |" for t in targets]
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--deliveries", type=int, default=2000, help="timed deliveries")
    parser.add_argument("--warmup", type=int, default=50, help="untimed deliveries first")
    parser.add_argument("--seed", type=int, default=20261215)
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty database to use instead of a temporary SQLite file "
        "(e.g. postgresql+psycopg://user:password@127.0.0.1:5432/bench)",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds to wait for processing"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.deliveries < 1 or args.warmup < 0:
        parser.error("--deliveries must be at least 1 and --warmup at least 0")
    check_texts()

    data_dir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'rightsdesk.db'}"
    try:
        result = run(args, database_url, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    targets = check(result)
    if args.json:
        print(json.dumps({"machine": machine(), "result": result, "targets": targets}, indent=2))
    else:
        print(table(result, targets))
    return 1 if any(t["result"] == "FAIL" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
