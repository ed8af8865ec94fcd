"""Idempotency-Key: a retried filing is answered with the first response, only to the same
caller (scope and client address) with the same body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.crypto import Vault
from app.errors import Conflict
from app.models.request import IdempotencyRecord
from app.models.request_api import RequestCreate, RequestCreated
from app.runtime import Runtime


@dataclass(frozen=True)
class Key:
    key_hash: str
    body_hash: str


def key_of(
    vault: Vault, scope: str, client: str | None, key: str | None, payload: RequestCreate
) -> Key | None:
    """The key as stored: a keyed hash of the caller (scope and client address) and the key.
    The same key from another address is another key, so a replay never hands one caller's
    first response (and its access code) to another, and a key claimed first by someone else
    does not block the real filer. The body hash is keyed too: the body holds names, birth
    dates and contacts, which an unkeyed hash would let anyone holding the table confirm."""
    if key is None:
        return None
    caller = f"{scope}\x00{client or '-'}"
    return Key(
        key_hash=vault.hash_secret(f"idempotency-key\x00{caller}\x00{key}"),
        body_hash=vault.hash_secret(f"idempotency-body\x00{payload.model_dump_json()}"),
    )


def replay(session: Session, vault: Vault, key: Key, now: datetime) -> RequestCreated | None:
    record = session.exec(
        select(IdempotencyRecord).where(IdempotencyRecord.key_hash == key.key_hash)
    ).first()
    if record is None or record.expires_at <= now:
        if record is not None:
            session.delete(record)
            session.flush()
        return None
    if record.body_hash != key.body_hash:
        raise Conflict(
            "같은 Idempotency-Key로 다른 내용의 요청이 이미 접수되었습니다.",
            code="idempotency_key_reused",
        )
    return RequestCreated.model_validate_json(
        vault.decrypt(record.response_enc, field="idempotency.response")
    )


def remember(
    session: Session,
    rt: Runtime,
    key: Key,
    request_id: int,
    response: RequestCreated,
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecord(
            key_hash=key.key_hash,
            body_hash=key.body_hash,
            request_id=request_id,
            response_enc=rt.vault.encrypt(response.model_dump_json(), field="idempotency.response"),
            created_at=now,
            expires_at=now + timedelta(hours=rt.settings.idempotency_ttl_hours),
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        # A concurrent retry with the same key won the race; the caller retries and replays.
        raise Conflict(
            "같은 요청이 동시에 처리되고 있습니다. 잠시 후 다시 시도해 주세요.",
            code="idempotency_in_progress",
        ) from exc
