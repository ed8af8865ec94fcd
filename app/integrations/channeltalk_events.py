"""The Channel Talk webhook envelope `{event, type, entity, refers}` (../shared/reference/
channeltalk.md §1.3), read leniently: payloads are wide and evolve, so unknown fields are kept
and only what we route on is typed.

Routing is on `type` (compared case-insensitively: the docs say "Message", deliveries say
"message") and on entity fields, never on `event` alone, whose v5 value is not documented.
"""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from app.textsafety import clean_multi_line, violation


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Block(_Lenient):
    type: str = "text"
    value: str | None = None
    blocks: list[Block] | None = None


class MessageEntity(_Lenient):
    id: str
    channelId: str = ""
    chatType: str = ""
    chatId: str = ""
    personType: str = ""
    personId: str = ""
    createdAt: int | None = None
    plainText: str | None = None
    blocks: list[Block] | None = None


class UserRef(_Lenient):
    id: str = ""
    memberId: str | None = None
    type: str | None = None  # member | lead | unified
    name: str | None = None
    profile: dict[str, Any] | None = None


class Envelope(_Lenient):
    event: str | None = None
    type: str | None = None
    entity: dict[str, Any] = {}
    refers: dict[str, Any] = {}

    @property
    def kind(self) -> str:
        t = (self.type or "").replace("_", "").lower()
        return {"message": "message", "userchat": "userchat", "user": "user"}.get(t, "other")


@dataclass(frozen=True)
class CustomerMessage:
    """A message a customer wrote in a user chat: the only thing that can file a request."""

    message_id: str
    channel_id: str
    user_chat_id: str
    user_id: str
    # When it reached us (the receipt time of a request it files): its own `createdAt`, unless
    # that lay outside the ReceiptWindow; then the delivery's arrival (`time_basis`).
    sent_at: datetime
    text: str
    user: UserRef
    created_at: datetime | None = None  # the message's own `createdAt`, when readable
    time_basis: str = "message"  # message | delivery


@dataclass(frozen=True)
class ReceiptWindow:
    """How far a message's own time may lie from the arrival of its delivery and still be
    believed: `createdAt` is the sender's word, and the legal deadline counts from receipt."""

    delivered_at: datetime
    ahead: timedelta
    behind: timedelta

    def receipt(self, created_at: datetime | None) -> tuple[datetime, str]:
        """The receipt time and its basis. A little ahead of our clock is skew: never later
        than the arrival."""
        at = self.delivered_at
        if created_at is not None and at - self.behind <= created_at <= at + self.ahead:
            return min(created_at, at), "message"
        return at, "delivery"


# Channel Talk's own envelopes nest about ten levels (envelope, entity, blocks, bullets, ...).
DEFAULT_MAX_DEPTH = 32

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
# Opening brackets become 1, closing ones 0xFF (-1 as a signed byte).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without parsing
    it: json.loads recurses once per level, and a 2 KB body of 1000 brackets is a
    RecursionError. Strings are cut out; the depth at each bracket is then a running sum of
    +1/-1, summed in C (a 1 MB body takes milliseconds)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    steps = array("b", brackets.translate(_STEPS))
    return max(accumulate(steps, initial=0)) > limit


def parse(raw: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Envelope | None:
    """The envelope, or None when the body is not a JSON object of that shape, or nests
    deeper than `max_depth`."""
    if nesting_exceeds(raw, max_depth):
        return None
    try:
        data = json.loads(raw)
        return Envelope.model_validate(data) if isinstance(data, dict) else None
    except (ValueError, ValidationError):
        return None


def dedupe_key(envelope: Envelope, raw: bytes) -> str:
    """Identity of an event (§2): a message by its id; a chat or user by id plus the field that
    changes with each new event; anything else by its bytes."""
    e = envelope.entity
    ident = str(e.get("id") or "")
    if envelope.kind == "message" and ident:
        return f"message:{ident}"
    if envelope.kind == "userchat" and ident:
        return f"userchat:{ident}:{e.get('openedAt')}:{e.get('state')}:{e.get('updatedAt')}"
    if envelope.kind == "user" and ident:
        return f"user:{ident}:{envelope.event}:{e.get('updatedAt')}"
    return f"raw:{hashlib.sha256(raw).hexdigest()}"


def dedupe_hash(key: str) -> str:
    return hashlib.sha256(f"channeltalk\x00{key}".encode()).hexdigest()


def customer_message(
    envelope: Envelope, window: ReceiptWindow | None = None
) -> CustomerMessage | None:
    """The customer's message, or None for anything else (manager and bot messages — our own
    posts among them —, team chats, other models). With a `window`, a `createdAt` outside it
    is not the receipt time (see ReceiptWindow)."""
    if envelope.kind != "message":
        return None
    try:
        m = MessageEntity.model_validate(envelope.entity)
    except ValidationError:
        return None
    if m.chatType != "userChat" or m.personType != "user" or not m.chatId:
        return None
    text = _visible_text(message_text(m))
    if not text:
        return None
    user = _user_ref(envelope.refers.get("user"), m.personId)
    created = _from_ms(m.createdAt)
    if window is not None:
        sent, basis = window.receipt(created)
    else:
        sent, basis = created or datetime.now(UTC), "message"
    return CustomerMessage(
        message_id=m.id,
        channel_id=m.channelId,
        user_chat_id=m.chatId,
        user_id=m.personId or user.id,
        sent_at=sent,
        text=text,
        user=user,
        created_at=created,
        time_basis=basis,
    )


def _from_ms(ms: int | None) -> datetime | None:
    """Epoch milliseconds as an instant; None when absent or beyond what a datetime holds."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _user_ref(raw: Any, person_id: str) -> UserRef:
    if isinstance(raw, dict):
        try:
            return UserRef.model_validate(raw)
        except ValidationError:
            pass
    return UserRef(id=person_id)


_TAG = re.compile(r"<[^>]{1,300}>")


def message_text(m: MessageEntity) -> str:
    """plainText, else the text of the blocks (nested bullets included), inline tags removed."""
    if m.plainText and m.plainText.strip():
        return _TAG.sub("", m.plainText).strip()
    parts: list[str] = []

    def walk(blocks: list[Block]) -> None:
        for b in blocks:
            if b.type in ("text", "bullets", "code") and b.value:
                parts.append(b.value)
            if b.blocks:
                walk(b.blocks)

    walk(m.blocks or [])
    return _TAG.sub("", "\n".join(parts)).strip()


def _visible_text(text: str) -> str:
    """A chat message as we keep it: control and bidi characters removed (the rules of a typed
    text, app/textsafety.py), and nothing at all when nothing visible is left."""
    text = clean_multi_line(text).strip()
    return text if violation(text, multiline=True) is None else ""


def deleted_user_id(envelope: Envelope) -> str | None:
    """A `member.deleted` / `lead.deleted` delivery: the id of the removed Channel Talk user."""
    if envelope.kind != "user":
        return None
    event = (envelope.event or "").lower()
    if "delete" not in event:
        return None
    ident = envelope.entity.get("id")
    return str(ident) if ident else None
