"""Assembling and releasing the access package, and access given in person or by mail.

Release writes one ZIP into the encrypted evidence store: every extract, plus 열람내역서.html
and 열람내역서.pdf (Decree art. 41(1)). An electronic access grant completes at release (the
result notice, form No. 9, says where and until when to download); a visit or a mailed copy
completes when staff record it (`provided`). The notice of a visit or a mailed copy goes out at
the grant, since it carries the date, time and place (Decree art. 41(5)).
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.errors import BusinessRuleViolation, Conflict, InvalidTransition, NotFound
from app.evidence.sniff import ZIP
from app.evidence.store import BlobWriter
from app.models.access import PACKAGE_KIND, AccessDownload, AccessPackage
from app.models.decision import Decision
from app.models.identity import Attachment
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import Delivery, Status
from app.runtime import Runtime
from app.services.access.extracts import ExtractFile, extract_files, extract_tasks
from app.services.access.statement import find_font, render_html, render_pdf
from app.services.audit.timeline import note
from app.services.closing import complete_request, latest_decision, queue_result_notice
from app.services.transmission import log as transmission_log
from app.workflows import access_package as rules
from app.workflows import transmission
from app.workflows.grounds import GROUNDS
from app.workflows.tasks import SETTLED
from app.workflows.transmission import uses_package

STATEMENT_NAME = "열람내역서"


class PackageEmpty(Conflict):
    code, title = "package_empty", "열람 자료에 파일이 없습니다."


def access_granted(
    session: Session, rt: Runtime, request: Request, d: Decision, *, actor: str
) -> None:
    """Extract tasks are out. A visit or a mailed copy is announced now, with its date, time
    and place; electronic access is announced at release, with the download."""
    if d.access is not None and d.access.method != Delivery.ELECTRONIC:
        queue_result_notice(session, rt, request, d, actor=actor)


def package_of(session: Session, request: Request) -> AccessPackage | None:
    return session.exec(select(AccessPackage).where(AccessPackage.request_id == request.id)).first()


def _package(session: Session, rt: Runtime, request: Request, d: Decision) -> AccessPackage:
    package = package_of(session, request)
    if package is None:
        assert request.id is not None and d.id is not None
        package = AccessPackage(request_id=request.id, decision_id=d.id, created_at=rt.clock())
        session.add(package)
    return package


def _packaged(request: Request) -> bool:
    return uses_package(request.type, request.transmission_to)


def _granted_access(session: Session, request: Request) -> Decision:
    d = latest_decision(session, request)
    if not _packaged(request) or request.status != Status.EXECUTING or d is None:
        raise InvalidTransition("열람을 인용해 자료를 모으는 중인 요청이 아닙니다.")
    return d


def _check_settled(session: Session, request: Request) -> None:
    pending = [t.holder_name for t in extract_tasks(session, request) if t.status not in SETTLED]
    if pending:
        raise InvalidTransition(
            "아직 열람 자료를 내지 않은 보유처가 있습니다: " + ", ".join(pending)
        )


# --- the manifest --------------------------------------------------------------------------------


def manifest(session: Session, rt: Runtime, request: Request) -> dict[str, Any]:
    if not _packaged(request):
        raise NotFound("열람 요구가 아니어서 열람 자료가 없습니다.")
    package = package_of(session, request)
    released = package.released_at if package else None
    expires = package.expires_at if package else None
    downloads = (
        session.exec(
            select(AccessDownload)
            .where(AccessDownload.package_id == package.id)
            .order_by(col(AccessDownload.id))
        ).all()
        if package is not None
        else []
    )
    return {
        "status": rules.package_state(released, expires, rt.clock()),
        "files": [
            {
                "holder": f.holder_code,
                "name": f.name,
                "size": f.attachment.size,
                "sha256": f.attachment.sha256,
            }
            for f in extract_files(session, rt, request)
        ],
        "released_at": released,
        "expires_at": expires,
        "downloads": [{"at": x.at, "via": x.via} for x in downloads],
    }


# --- release -------------------------------------------------------------------------------------


def release(session: Session, rt: Runtime, request: Request, staff: Staff) -> None:
    d = _granted_access(session, request)
    files = extract_files(session, rt, request)
    if not files:
        raise PackageEmpty(
            "보유처의 열람 자료가 하나도 없어 제공할 수 없습니다. 파일을 먼저 올려 주세요."
        )
    _check_settled(session, request)
    existing = package_of(session, request)
    if existing is not None and existing.released_at is not None:
        raise InvalidTransition("열람 자료는 이미 제공되었습니다.")
    statement = _statement(session, rt, request, d, files)
    html = render_html(statement).encode("utf-8")
    pdf = render_pdf(statement, find_font(rt.settings.access_statement_font))
    package = _package(session, rt, request, d)
    now = rt.clock()
    items = _item_documents(rt, request, d, files)
    attachment = _store_zip(
        session, rt, request, files, html, pdf, items, actor=f"staff:{staff.id}"
    )
    package.attachment_id = attachment.id
    package.released_at, package.released_by = now, staff.id
    package.expires_at = rules.expires_at(now, rt.settings.access_package_days)
    actor = f"staff:{staff.id}"
    note(
        session,
        rt,
        request,
        "access_package_released",
        actor=actor,
        files=len(files),
        size=attachment.size,
        sha256=attachment.sha256,
        expires_at=package.expires_at.isoformat(),
    )
    if request.type == transmission.TYPE:
        # Decree art. 42-6(11): the transmission to the subject goes into the log.
        transmission_log.record(session, rt, request, items=d.items_granted, result="transmitted")
    if d.access is None or d.access.method == Delivery.ELECTRONIC:
        complete_request(session, rt, request, actor=actor, package_expires_at=package.expires_at)


def _item_documents(
    rt: Runtime, request: Request, d: Decision, files: list[ExtractFile]
) -> list[tuple[str, bytes]]:
    """Transmission (art. 35-2(1)): one UTF-8 JSON document per granted item, with the
    policy's code and Korean name and the extracts that hold its content. Access has none."""
    if request.type != transmission.TYPE:
        return []
    service = rt.policy.service(request.service)
    assert service is not None
    docs = []
    for code in d.items_granted:
        item = service.item(code)
        if item is None:
            continue
        holders = [h for h in rt.policy.holders_of(request.service, [code]) if h.holds(code)]
        held_by = {h.code for h in holders}
        record = transmission.ItemRecord(
            code=code,
            name=item.name,
            components=tuple(item.components),
            holders=tuple(h.code for h in holders),
            files=tuple(f.name for f in files if f.holder_code in held_by),
        )
        docs.append(
            (
                transmission.item_json_name(code),
                transmission.item_json(
                    record, reference=request.reference, service=request.service
                ),
            )
        )
    return docs


def _statement(
    session: Session, rt: Runtime, request: Request, d: Decision, files: list[ExtractFile]
) -> rules.Statement:
    by_holder: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for f in files:
        by_holder.setdefault(f.holder_code, []).append(f.name)
        names[f.holder_code] = f.holder_name
    grounds = [
        f"{GROUNDS[g].article}: {'' if GROUNDS[g].verbatim else '(요지) '}{GROUNDS[g].text_ko}"
        for g in d.grounds
        if g in GROUNDS
    ]
    return rules.build_statement(
        rt.policy,
        service_code=request.service,
        reference=request.reference,
        scope=rules.scope_of(request.access_scope),
        granted=d.items_granted,
        withheld=[(code, grounds) for code in d.items_withheld],
        files_by_holder=by_holder,
        holder_names=names,
    )


class _Sink:
    """What zipfile writes to: the encrypted blob (write-only, not seekable)."""

    def __init__(self, writer: BlobWriter) -> None:
        self.writer = writer

    def write(self, data: bytes) -> int:
        self.writer.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # the blob is committed once the ZIP is whole


def _store_zip(
    session: Session,
    rt: Runtime,
    request: Request,
    files: list[ExtractFile],
    html: bytes,
    pdf: bytes,
    items: list[tuple[str, bytes]],
    *,
    actor: str,
) -> Attachment:
    writer = rt.evidence.create()
    try:
        with zipfile.ZipFile(_Sink(writer), "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                with (
                    zf.open(f.name, "w", force_zip64=True) as out,
                    rt.evidence.open(f.attachment.blob_key) as reader,
                ):
                    for chunk in reader:
                        out.write(chunk)
            zf.writestr(f"{STATEMENT_NAME}.html", html)
            zf.writestr(f"{STATEMENT_NAME}.pdf", pdf)
            for name, data in items:
                zf.writestr(name, data)
        blob = writer.commit()
    except BaseException:
        writer.abort()
        raise
    assert request.id is not None
    attachment = Attachment(
        request_id=request.id,
        kind=PACKAGE_KIND,
        content_type=ZIP,
        size=blob.size,
        sha256=blob.sha256,
        blob_key=blob.key,
        filename_enc=None,
        uploaded_by=actor,
        uploaded_at=rt.clock(),
    )
    session.add(attachment)
    try:
        session.flush()
    except BaseException:
        rt.evidence.delete(blob.key)
        raise
    return attachment


# --- in person or by mail ------------------------------------------------------------------------


def provided(
    session: Session,
    rt: Runtime,
    request: Request,
    staff: Staff,
    *,
    at: datetime,
    note_text: str | None,
) -> None:
    """The subject saw the data in person, or the copy was mailed: the request completes."""
    d = _granted_access(session, request)
    if d.access is None or d.access.method == Delivery.ELECTRONIC:
        raise InvalidTransition("전자적 방법의 열람은 열람 자료를 제공(release)할 때 완료됩니다.")
    _check_settled(session, request)
    now = rt.clock()
    if at > now or (d.decided_at is not None and at < d.decided_at):
        raise BusinessRuleViolation(
            "provided_at_out_of_range", "at", "열람 일시는 결정 뒤부터 지금까지여야 합니다."
        )
    package = _package(session, rt, request, d)
    package.provided_at = at
    package.provided_note_enc = rt.vault.encrypt_opt(note_text, field="access_package.note")
    actor = f"staff:{staff.id}"
    note(session, rt, request, "access_provided", actor=actor, method=d.access.method.value)
    complete_request(session, rt, request, actor=actor)
