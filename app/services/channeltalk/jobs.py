"""Channel Talk background work: reconciliation, the managers' notes, raw-event retention.

Reconciliation exists because webhook deliveries can be lost (retries are not documented)
and a webhook that failed 100 times in a row is blocked on Channel Talk's side: every few
minutes the recent open chats are listed and any customer message we never received is
processed as if it had been delivered; the webhook's `blocked` flag is checked at the same
time and a blocked webhook is logged as an error, shown in the staff status and in /metrics.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from app.db import transaction
from app.integrations.channeltalk import ChannelTalkClient
from app.integrations.delivery import DeliveryError, classify
from app.models.channeltalk import ChatCandidate, IntegrationState
from app.models.vocab import TYPE_LABELS_KO
from app.runtime import Runtime
from app.services.channeltalk.inbound import process_event, record_delivery

log = logging.getLogger("rightsdesk.channeltalk")

STATE_KEY = "channeltalk"
NOTE_MAX_ATTEMPTS = 5


def reconcile(rt: Runtime, client: ChannelTalkClient) -> dict[str, Any]:
    """List recent open chats; process customer messages that never arrived. Returns (and
    stores) a report: chats looked at, messages recovered, the webhook's state."""
    now = rt.clock()
    s = rt.settings
    since_ms = (now - timedelta(hours=s.channeltalk_reconcile_lookback_hours)).timestamp() * 1000
    listing = client.list_user_chats(
        state="opened", sort_order="desc", limit=s.channeltalk_reconcile_max_chats
    )
    users = {u.get("id"): u for u in listing.get("users") or [] if isinstance(u, dict)}
    recovered = 0
    chats = [c for c in listing.get("userChats") or [] if isinstance(c, dict) and c.get("id")]
    for chat in chats:
        for message in (
            client.list_messages(str(chat["id"]), sort_order="desc", limit=50).get("messages") or []
        ):
            if not _customer_message_since(message, since_ms):
                continue
            envelope = _envelope(chat, message, users.get(chat.get("userId")))
            event_id = record_delivery(rt, json.dumps(envelope).encode(), via="reconcile")
            if event_id is not None:
                recovered += 1
                process_event(rt, event_id)
    report = {
        "checked_at": now.isoformat(),
        "chats_checked": len(chats),
        "messages_recovered": recovered,
        **webhook_state(rt, client),
    }
    _save(rt, report)
    if recovered:
        log.warning("Channel Talk reconciliation recovered %d undelivered message(s)", recovered)
    return report


def webhook_state(rt: Runtime, client: ChannelTalkClient) -> dict[str, Any]:
    """Is the webhook carrying our token registered, and is it blocked? Warns when not well."""
    webhook = _our_webhook(rt, client.list_webhooks())
    state = {
        "webhook_found": webhook is not None,
        "webhook_blocked": bool(webhook and webhook.get("blocked")),
        "webhook_last_blocked_at": webhook.get("lastBlockedAt") if webhook else None,
    }
    if state["webhook_blocked"]:
        log.error(
            "Channel Talk webhook is BLOCKED: deliveries stopped. Unblock it in the Desk "
            "(설정 > 웹훅) and check why this service answered with errors."
        )
    elif webhook is None:
        log.warning("Channel Talk lists no webhook with our token: deliveries cannot arrive")
    return state


def _customer_message_since(message: Any, since_ms: float) -> bool:
    return (
        isinstance(message, dict)
        and message.get("personType") == "user"
        and isinstance(message.get("createdAt"), int | float)
        and message["createdAt"] >= since_ms
    )


def _envelope(chat: dict[str, Any], message: dict[str, Any], user: Any) -> dict[str, Any]:
    """The webhook envelope the message would have come in (§1.4), so it is processed and
    de-duplicated exactly like a delivery."""
    entity = {
        **message,
        "chatType": message.get("chatType") or "userChat",
        "chatId": message.get("chatId") or chat["id"],
        "channelId": message.get("channelId") or chat.get("channelId", ""),
    }
    refers: dict[str, Any] = {"userChat": chat}
    if isinstance(user, dict):
        refers["user"] = user
    return {"event": "push", "type": "message", "entity": entity, "refers": refers}


def _our_webhook(rt: Runtime, listing: dict[str, Any]) -> dict[str, Any] | None:
    tokens = rt.settings.channeltalk_tokens
    for hook in listing.get("webhooks") or []:
        token = hook.get("token") if isinstance(hook, dict) else None
        if isinstance(token, str) and any(secrets.compare_digest(token, t) for t in tokens):
            return dict(hook)
    return None


def _save(rt: Runtime, report: dict[str, Any]) -> None:
    with transaction(rt.engine) as session:
        state = session.get(IntegrationState, STATE_KEY)
        if state is None:
            state = IntegrationState(key=STATE_KEY, updated_at=rt.clock())
            session.add(state)
        state.value, state.updated_at = report, rt.clock()


def last_report(rt: Runtime) -> dict[str, Any] | None:
    with transaction(rt.engine) as session:
        state = session.get(IntegrationState, STATE_KEY)
        return dict(state.value) if state else None


def post_candidate_notes(rt: Runtime, client: ChannelTalkClient) -> int:
    """Post the private note asking managers to confirm a detection, once per candidate."""
    with transaction(rt.engine) as session:
        pending = session.exec(
            select(ChatCandidate)
            .where(
                col(ChatCandidate.note_sent_at).is_(None),
                ChatCandidate.status == "pending",
                col(ChatCandidate.note_attempts) < NOTE_MAX_ATTEMPTS,
            )
            .order_by(col(ChatCandidate.id))
            .limit(rt.settings.worker_batch_size)
        ).all()
        todo = [(c.id, c.user_chat_id, list(c.suggested), list(c.matched)) for c in pending]
    sent = 0
    for candidate_id, chat_id, suggested, matched in todo:
        error: DeliveryError | None = None
        try:
            client.send_message(
                chat_id,
                candidate_note(candidate_id or 0, suggested, matched),
                request_id=f"rightsdesk-candidate-{candidate_id}",
                bot_name=rt.settings.channeltalk_bot_name,
                private=True,
            )
        except Exception as exc:
            error = classify(exc)
            log.warning("private note for candidate %s not posted: %s", candidate_id, error.reason)
        with transaction(rt.engine) as session:
            c = session.get(ChatCandidate, candidate_id)
            assert c is not None
            c.note_attempts += 1
            if error is None:
                c.note_sent_at = rt.clock()
                sent += 1
    return sent


def candidate_note(candidate_id: int, suggested: list[str], matched: list[str]) -> str:
    """Managers only (option `private`); names the guess and the words, nothing personal."""
    kinds = ", ".join(TYPE_LABELS_KO.get(t, t) for t in suggested) or "알 수 없음"
    words = ", ".join(f"'{m}'" for m in matched[:6])
    return (
        f"[RightsDesk] 개인정보 요청일 수 있는 메시지입니다(추정: {kinds}; 단어: {words}).\n\n"
        f"요청이 맞으면 RightsDesk에서 후보 {candidate_id}번을 접수해 주세요. 메시지를 받은 "
        "시각이 접수 시각이 되어 법정기한이 계산됩니다. 요청이 아니면 후보를 닫아 주세요."
    )
