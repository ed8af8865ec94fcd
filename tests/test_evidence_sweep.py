"""Files a crash leaves in the evidence store (a committed blob no attachment refers to, a
`.partial`) are swept when the worker starts and every hour after; in-flight ones are not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.identity import Attachment
from app.runtime import Runtime
from app.services.jobs import periodic_jobs
from app.services.notices.outbox import BackgroundWorker, Outbox
from tests.conftest import request_body
from tests.factories import CHILD, PARENT, evidence_files, multipart, pdf_bytes


def _age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def _crash_leftovers(runtime: Runtime) -> tuple[Path, Path]:
    """What a process killed mid-upload leaves: a committed blob whose attachment row was
    never written, and the temporary file of the next one."""
    before = set(evidence_files(runtime))
    with runtime.evidence.create() as orphan:
        orphan.write(b"%PDF-1.4 an identity document")
        orphan.commit()
    partial = runtime.evidence.create()
    partial.write(b"%PDF-1.4 half of it")
    [blob] = [p for p in set(evidence_files(runtime)) - before if p.name == orphan.key]
    [temporary] = [p for p in set(evidence_files(runtime)) - before if p.name != orphan.key]
    assert temporary.name.endswith(".partial")
    return blob, temporary


def test_the_worker_sweeps_orphans_and_partials_at_start_and_keeps_referenced_files(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    resp = multipart(
        client,
        "/v1/requests",
        [("proof_of_representation", "가족관계증명서.pdf", pdf_bytes())],
        body=request_body(subject=CHILD, requester=PARENT),
    )
    assert resp.status_code == 201, resp.text
    key = db.exec(select(Attachment.blob_key)).one()
    [referenced] = [p for p in evidence_files(runtime) if p.name == key]
    orphan, partial = _crash_leftovers(runtime)
    grace_hours = runtime.settings.evidence_orphan_grace_minutes / 60
    for path in (referenced, orphan, partial):
        _age(path, grace_hours + 1)
    # An upload still in flight: its blob is committed but its row not yet written.
    young_orphan, young_partial = _crash_leftovers(runtime)

    worker = BackgroundWorker(Outbox(runtime), 1.0, periodic_jobs(runtime))
    worker.run_pass()  # the first pass, as the worker starts

    left = set(evidence_files(runtime))
    assert orphan not in left and partial not in left
    assert {referenced, young_orphan, young_partial} <= left
    assert runtime.evidence.open(key).read_all().startswith(b"%PDF")

    # The hourly pass takes what has aged since.
    for path in (young_orphan, young_partial):
        _age(path, grace_hours + 1)
    [sweep] = [job for job in worker.jobs if job.name == "Evidence sweep"]
    assert sweep.every_seconds == 3600
    sweep.run()
    assert set(evidence_files(runtime)) == {referenced}
