"""The periodic jobs of the worker, chosen by the settings."""

from __future__ import annotations

from app.runtime import Runtime
from app.services.notices.outbox import Periodic


def periodic_jobs(rt: Runtime) -> list[Periodic]:
    from app.services.audit import purge
    from app.services.audit import verify as audit
    from app.services.channeltalk import inbound as chat_inbound
    from app.services.channeltalk import jobs as chat_jobs
    from app.services.identity import evidence_sweep
    from app.services.sla import reminders as sla_reminders
    from app.services.tasks import links as task_notices
    from app.services.tasks import schedule as task_schedule

    s = rt.settings
    jobs: list[Periodic] = []
    if s.sla_sweep_minutes:
        jobs.append(
            Periodic("SLA sweep", s.sla_sweep_minutes * 60, lambda: sla_reminders.sweep(rt))
        )
        jobs.append(
            Periodic(
                "Task reminders", s.sla_sweep_minutes * 60, lambda: task_notices.remind_overdue(rt)
            )
        )
        # Retention ends open on their day (art. 21(1)); the owner is reminded then.
        jobs.append(
            Periodic(
                "Scheduled tasks", s.sla_sweep_minutes * 60, lambda: task_schedule.open_due(rt)
            )
        )
    # The global audit chain grows by one anchor over the chains that grew (every 5 minutes).
    jobs.append(Periodic("Audit anchor", 300, lambda: audit.anchor(rt)))
    # What a crash mid-upload left in the evidence store; the first pass runs it at start-up.
    jobs.append(Periodic("Evidence sweep", 3600, lambda: evidence_sweep.sweep(rt)))
    if s.purge_after_days or s.access_log_retention_days:
        jobs.append(Periodic("Retention purge", 3600, lambda: purge.purge(rt)))
    if s.channeltalk_tokens or s.channeltalk_api_enabled:
        # Deliveries are processed right after the webhook answers; this catches the ones a
        # crash or a failure left behind.
        jobs.append(Periodic("Channel Talk events", 0, lambda: chat_inbound.process_due(rt)))
        jobs.append(
            Periodic("Channel Talk retention", 3600, lambda: chat_inbound.purge_expired(rt))
        )
    if s.channeltalk_api_enabled:
        from app.integrations.chat import client_for

        client = client_for(s)
        jobs.append(
            Periodic("Channel Talk notes", 0, lambda: chat_jobs.post_candidate_notes(rt, client))
        )
        if s.channeltalk_reconcile_minutes:
            jobs.append(
                Periodic(
                    "Channel Talk reconciliation",
                    s.channeltalk_reconcile_minutes * 60,
                    lambda: chat_jobs.reconcile(rt, client),
                )
            )
    return jobs
