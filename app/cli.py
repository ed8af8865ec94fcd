"""`rightsdesk` command: serve, worker, migrate, staff add / revoke / enrol, sla sweep, channeltalk,
calendar recompute."""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.core.logredact import log_config
from app.db import make_engine, transaction
from app.errors import DomainError
from app.models.base import utcnow
from app.models.staff import Role
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from datetime import datetime

    from app.runtime import Runtime


def _configure_logging(level: str) -> None:
    # Our loggers name references and notice kinds only, never people (see docs/decisions.md);
    # no handler writes a traceback (app/core/logredact.py).
    logging.config.dictConfig(log_config(level))


def _command_logging(args: argparse.Namespace, settings: Settings) -> None:
    """A command with a one-line result: warnings and errors only, so nothing (Alembic's INFO
    lines included) surrounds the result; `--verbose` shows the INFO lines too. The services
    (serve, worker) log at RIGHTSDESK_LOG_LEVEL."""
    verbose = getattr(args, "verbose", False)
    level = settings.log_level if settings.log_level.lower() == "debug" else "info"
    _configure_logging(level if verbose else "warning")


def _runtime(settings: Settings) -> Runtime:
    """The runtime of a command that works on the database: refused when it is behind."""
    from app.migrate import assert_at_head
    from app.runtime import build_runtime

    runtime = build_runtime(settings)
    assert_at_head(runtime.engine)
    return runtime


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    _configure_logging(settings.log_level)
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_level=settings.log_level,
        # SIGTERM: requests in flight get this long, then their connections are closed (a
        # stalled upload cannot hold a shutdown, or a deployment, forever).
        timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown_seconds),
        log_config=log_config(settings.log_level),  # uvicorn's loggers redacted too
        # Off: uvicorn would believe X-Forwarded-For from 127.0.0.1. The app reads forwarded
        # headers itself, from RIGHTSDESK_FORWARDED_ALLOW_IPS only (app/proxies.py).
        proxy_headers=False,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from app.services.jobs import periodic_jobs
    from app.services.notices.outbox import BackgroundWorker, Outbox

    settings = get_settings()
    _configure_logging(settings.log_level)
    if settings.worker_nice:
        # Background work: on a host it shares with web processes, they get the CPU first.
        os.nice(settings.worker_nice)
    runtime = _runtime(settings)
    worker = BackgroundWorker(Outbox(runtime), settings.worker_poll_seconds, periodic_jobs(runtime))
    if args.once:
        worker.run_pass()
        worker.outbox.close()
        return 0
    stop = threading.Event()

    def halt(*_: object) -> None:
        stop.set()
        worker.halt()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, halt)
    # A notice being sent when the signal arrives is finished and recorded before exiting;
    # the rest of the backlog waits for the next worker.
    while not stop.is_set():
        worker.run_pass()
        stop.wait(settings.worker_poll_seconds)
    worker.outbox.close()
    return 0


def _sla_sweep(args: argparse.Namespace) -> int:
    from app.services.sla.reminders import sweep

    settings = get_settings()
    _command_logging(args, settings)
    runtime = _runtime(settings)
    result = sweep(runtime)
    print(json.dumps(result.as_dict()))
    return 0


def _calendar_recompute(args: argparse.Namespace) -> int:
    """Count every open request's deadline again with the calendar now configured."""
    from app.services.requests.recompute import recompute_deadlines

    settings = get_settings()
    _command_logging(args, settings)
    result = recompute_deadlines(_runtime(settings))
    print(json.dumps(result.as_dict()))
    print(
        f"{result.changed} deadline(s) changed of {result.examined} open request(s);"
        f" {result.still_unconfirmed} still unconfirmed",
        file=sys.stderr,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from app.migrate import current_revision, head_revision, upgrade
    from app.private_files import private_dir

    settings = get_settings()
    _command_logging(args, settings)
    url = settings.database_url_resolved
    if url.startswith("sqlite"):
        private_dir(settings.data_dir)
    engine = make_engine(settings)
    before = current_revision(engine)
    upgrade(url, own_logging=True)
    after = current_revision(engine)
    engine.dispose()
    if before == after:
        print(f"database already at the latest revision ({after}).")
    else:
        print(
            f"database migrated from {before or 'empty'} to {after} (latest: {head_revision(url)})."
        )
    return 0


def _staff_add(args: argparse.Namespace) -> int:
    from app.services.console.credentials import enrolment_link_for_name, enrolment_url
    from app.services.staff.accounts import add_staff

    settings = get_settings()
    _command_logging(args, settings)
    rt = _runtime(settings)
    with transaction(rt.engine) as session:
        created = add_staff(
            session,
            name=args.name,
            role=Role(args.role),
            now=utcnow(),
            email=args.email,
            token_ttl_days=settings.token_ttl_days,
        )
        link = enrolment_link_for_name(session, rt, args.name)
    url = enrolment_url(rt, link.token)
    if args.json:
        print(
            json.dumps(
                {
                    "staff_id": created.staff_id,
                    "token": created.token,
                    "enrolment_url": url,
                    "enrolment_expires_at": link.expires_at.isoformat(),
                }
            )
        )
    else:
        print(f"staff #{created.staff_id} '{args.name}' ({args.role}) added.")
        print(f"token (shown once, keep it safe): {created.token}")
        _print_enrolment(url, link.expires_at)
    return 0


def _print_enrolment(url: str, expires_at: datetime) -> None:
    print("console enrolment link (single use; sets the password and the authenticator app):")
    print(f"  {url}")
    print(f"  valid until {expires_at.isoformat(timespec='minutes')}; send it to the person only.")


def _staff_enrol(args: argparse.Namespace) -> int:
    """A new enrolment link (first sign-in of an existing account, a lost phone or password):
    earlier links stop working, and the account's sessions end when it is used."""
    from app.services.console.credentials import enrolment_link_for_name, enrolment_url

    rt = _runtime(get_settings())
    with transaction(rt.engine) as session:
        link = enrolment_link_for_name(session, rt, args.name)
    url = enrolment_url(rt, link.token)
    if args.json:
        print(json.dumps({"enrolment_url": url, "expires_at": link.expires_at.isoformat()}))
    else:
        _print_enrolment(url, link.expires_at)
    return 0


def _staff_revoke(args: argparse.Namespace) -> int:
    from app.services.staff.accounts import revoke_staff

    settings = get_settings()
    _command_logging(args, settings)
    engine = make_engine(settings)
    with transaction(engine) as session:
        count = revoke_staff(session, name=args.name, now=utcnow())
    print(f"staff '{args.name}' deactivated; {count} token(s) revoked.")
    return 0


def _staff_token(args: argparse.Namespace) -> int:
    from app.services.staff.accounts import token_for_name

    settings = get_settings()
    _command_logging(args, settings)
    with transaction(make_engine(settings)) as session:
        token = token_for_name(
            session, name=args.name, now=utcnow(), ttl_days=settings.token_ttl_days
        )
    if args.json:
        print(json.dumps({"token": token}))
    else:
        print(f"new token for '{args.name}' (shown once): {token}")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every chain and anchor is intact, 1 naming the first broken event."""
    from app.runtime import build_runtime
    from app.services.audit.verify import verify

    settings = get_settings()
    _command_logging(args, settings)
    report = verify(build_runtime(settings))
    print(json.dumps(report, ensure_ascii=False))
    if not report["intact"]:
        b = report["first_break"]
        print(
            f"rightsdesk: audit chain broken at {b['where']} {b['id']}"
            f" (request {b['reference']}, seq {b['seq']}): {b['reason']}",
            file=sys.stderr,
        )
        return 1
    return 0


def _purge(args: argparse.Namespace) -> int:
    from app.services.audit.purge import purge

    settings = get_settings()
    _command_logging(args, settings)
    runtime = _runtime(settings)
    print(json.dumps(purge(runtime, dry_run=args.dry_run)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from app.services.intake.demo import load

    settings = get_settings()
    _command_logging(args, settings)
    if settings.env != "development":
        # Refused before the database is touched.
        raise ValueError(
            "demo data is loaded only when RIGHTSDESK_ENV is development"
            f" (it is {settings.env}); it is never loaded in production"
        )
    result = load(_runtime(settings))
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    if result.already_loaded:
        print(
            f"demo data is already there ({len(result.rows)} requests); nothing was added."
            " Their access codes were printed when it was loaded (stored hashed, not shown again)."
        )
    else:
        print(f"demo data loaded: {len(result.rows)} synthetic requests.")
    print(f"{'reference':<22}{'access code':<17}{'type':<21}status")
    for row in result.rows:
        code = row["access_code"] or "-"
        print(f"{row['reference']:<22}{code:<17}{row['type']:<21}{row['status']}")
    print(f"follow one as its requester at {base}/status with its reference and access code.")
    print("staff '데모 담당자' (agent) and '데모 보호책임자' (officer): issue them tokens with")
    print("  rightsdesk staff token --name '데모 담당자'")
    return 0


def _channeltalk(args: argparse.Namespace) -> int:
    """`check`: the credential works and our webhook is registered and not blocked.
    `reconcile`: one reconciliation now, its report as JSON. Exit 1 when something is wrong."""
    from app.integrations.chat import client_for
    from app.integrations.delivery import DeliveryError
    from app.migrate import assert_at_head
    from app.runtime import build_runtime
    from app.services.channeltalk.jobs import reconcile, webhook_state

    settings = get_settings()
    _command_logging(args, settings)
    if not settings.channeltalk_api_enabled:
        print("rightsdesk: set RIGHTSDESK_CHANNELTALK_ACCESS_KEY and _SECRET", file=sys.stderr)
        return 1
    runtime = build_runtime(settings)
    try:
        with client_for(settings) as client:
            if args.channeltalk_command == "check":
                channel = client.get_channel().get("channel") or {}
                report = {"channel_id": channel.get("id"), **webhook_state(runtime, client)}
            else:
                assert_at_head(runtime.engine)
                report = reconcile(runtime, client)
    except DeliveryError as exc:  # e.g. 401: a wrong key or secret
        print(f"rightsdesk: {exc.reason}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["webhook_found"] and not report["webhook_blocked"] else 1


_VERBOSE = "also print INFO log lines (e.g. Alembic's) around the result"


def _verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """`--verbose` after the command too (`rightsdesk migrate --verbose`): every sub-parser
    takes it, without overriding one given before the command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument(
                    "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE
                )
                _verbose_anywhere(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rightsdesk", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="deliver queued notices (production: run beside serve)")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.set_defaults(func=_worker)

    sla = sub.add_parser("sla", help="SLA operations")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True)
    sla_sub.add_parser(
        "sweep", help="queue due-soon, overdue and unassigned reminders (each once); for cron"
    ).set_defaults(func=_sla_sweep)

    calendar = sub.add_parser("calendar", help="the holiday calendar of legal deadlines")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    calendar_sub.add_parser(
        "recompute",
        help="re-derive open requests' deadlines after the calendar was extended; print counts",
    ).set_defaults(func=_calendar_recompute)

    channeltalk = sub.add_parser("channeltalk", help="Channel Talk integration")
    ct_sub = channeltalk.add_subparsers(dest="channeltalk_command", required=True)
    ct_sub.add_parser(
        "check", help="test the API credential; is our webhook registered and not blocked?"
    ).set_defaults(func=_channeltalk)
    ct_sub.add_parser(
        "reconcile", help="process customer messages of recent open chats that never arrived"
    ).set_defaults(func=_channeltalk)

    sub.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(
        func=_migrate
    )

    _add_staff_commands(sub)

    audit = sub.add_parser("audit", help="the tamper-evident timeline")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser(
        "verify", help="check every chain and anchor; exit 1 naming the first broken event"
    ).set_defaults(func=_audit_verify)

    purge_cmd = sub.add_parser(
        "purge", help="remove personal data of requests closed longer than PURGE_AFTER_DAYS"
    )
    purge_cmd.add_argument("--dry-run", action="store_true", help="count, change nothing")
    purge_cmd.set_defaults(func=_purge)

    sub.add_parser(
        "demo",
        help="load synthetic requests to try the service with (RIGHTSDESK_ENV=development only)",
    ).set_defaults(func=_demo)
    _verbose_anywhere(parser)
    return parser


def _add_staff_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff accounts and tokens")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add a staff member and print a new token once")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--email", help="where SLA reminders reach this person")
    add.add_argument("--json", action="store_true", help="print one JSON line")
    add.set_defaults(func=_staff_add)
    revoke = staff_sub.add_parser("revoke", help="deactivate a staff member and their tokens")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(func=_staff_revoke)
    token = staff_sub.add_parser("token", help="issue another token (rotation); shown once")
    token.add_argument("--name", required=True)
    token.add_argument("--json", action="store_true", help="print one JSON line")
    token.set_defaults(func=_staff_token)
    enrol = staff_sub.add_parser(
        "enrol", help="print a new one-time staff console enrolment link (password and TOTP)"
    )
    enrol.add_argument("--name", required=True)
    enrol.add_argument("--json", action="store_true", help="print one JSON line")
    enrol.set_defaults(func=_staff_enrol)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DomainError, ValueError) as exc:
        print(f"rightsdesk: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
