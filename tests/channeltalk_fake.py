"""A fake Channel Talk over real HTTP: the Open API v5 subset we call, plus webhook deliveries.

Shapes follow shared/reference/channeltalk.md (§1.4 envelope, §3 Open API); everything it holds
is synthetic. Error bodies are invented (Channel's real error format is unverified).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx

from tests.servers import free_port

Json = dict[str, Any]
RATE_LIMIT = 1000
SCOPES = ["message.created.userChat", "userChat.opened", "member.deleted", "lead.deleted"]


@dataclass
class ApiCall:
    method: str
    path: str  # percent-decoded; `raw_path` is what went over the wire
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any
    at: float  # time.time() on arrival
    raw_path: str = ""
    status: int = 0  # filled in once answered


@dataclass
class Delivery:
    url: str  # without the token
    payload: Json | bytes
    status: int
    at: float


@dataclass
class _Failure:
    method: str
    prefix: str
    status: int
    headers: dict[str, str]
    times: int


@dataclass
class _State:
    users: dict[str, Json] = field(default_factory=dict)
    chats: dict[str, Json] = field(default_factory=dict)
    messages: dict[str, list[Json]] = field(default_factory=dict)  # per chat, insertion order
    webhooks: list[Json] = field(default_factory=list)


class _NotFound(Exception):
    pass


def _ms() -> int:
    return int(time.time() * 1000)


def _new_id() -> str:
    return secrets.token_hex(12)  # Channel ids look like 24 hex digits


# Entity shapes (§1.4, §3.4), laid out densely so they read like the doc's examples.
# fmt: off
def _user(channel_id: str, user_id: str, member_id: str | None, type_: str, name: str,
          email: str | None, mobile: str | None) -> Json:
    now = _ms()
    return {"id": user_id, "channelId": channel_id, "memberId": member_id, "type": type_,
            "member": member_id is not None, "name": name, "email": email,
            "mobileNumber": mobile, "profile": {"name": name, "email": email,
            "mobileNumber": mobile}, "tags": [], "language": "ko", "createdAt": now,
            "updatedAt": now}


def _chat(channel_id: str, chat_id: str, user_id: str, state: str) -> Json:
    now = _ms()
    return {"id": chat_id, "channelId": channel_id, "userId": user_id, "state": state,
            "assigneeId": None, "managerIds": [], "tags": [], "description": None,
            "openedAt": now, "createdAt": now, "updatedAt": now}


def _message(channel_id: str, chat_id: str, person_type: str, person_id: str,
             blocks: list[Json], *, message_id: str | None = None,
             created_at_ms: int | None = None, chat_type: str = "userChat",
             request_id: str | None = None, options: list[str] | None = None) -> Json:
    created = created_at_ms if created_at_ms is not None else _ms()
    return {"id": message_id or _new_id(), "channelId": channel_id, "chatType": chat_type,
            "chatId": chat_id, "chatKey": f"{chat_type}-{chat_id}", "personType": person_type,
            "personId": person_id, "requestId": request_id, "language": "ko",
            "createdAt": created, "updatedAt": created, "version": 1, "blocks": blocks,
            "plainText": _joined(blocks), "options": options or [], "state": "sent"}


def _webhook(channel_id: str, url: str) -> Json:
    return {"id": _new_id(), "channelId": channel_id, "name": "rightsdesk", "url": url,
            "token": "", "blocked": False, "lastBlockedAt": None, "scopes": list(SCOPES),
            "apiVersion": "v5", "createdAt": _ms()}
# fmt: on


def _joined(blocks: list[Json]) -> str:
    return "\n\n".join(str(b.get("value", "")) for b in blocks)


def _text(text: str) -> list[Json]:
    return [{"type": "text", "value": text}]


def _error(status: int, message: str) -> Json:
    return {"type": "error", "status": status, "errors": [{"message": message}]}


class FakeChannelTalk:
    def __init__(
        self,
        access_key: str = "test-key",
        access_secret: str = "test-secret",
        *,
        channel_id: str = "123456",
        channel_name: str = "테스트채널",
    ) -> None:
        self.access_key, self.access_secret = access_key, access_secret
        self.channel_id, self.channel_name = channel_id, channel_name
        self.calls: list[ApiCall] = []
        self.deliveries: list[Delivery] = []
        self.state = _State()
        self._failures: list[_Failure] = []
        self.lock = threading.RLock()  # guards state, calls, failures and deliveries
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, and tests stop a fake each time.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FakeChannelTalk:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeChannelTalk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state set-up ------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        member_id: str | None = None,
        type: str = "member",
        name: str = "테스트고객",
        email: str | None = None,
        mobile: str | None = None,
    ) -> Json:
        user = _user(self.channel_id, user_id, member_id, type, name, email, mobile)
        with self.lock:
            self.state.users[user_id] = user
            return copy.deepcopy(user)

    def add_chat(self, chat_id: str, user_id: str, *, state: str = "opened") -> Json:
        with self.lock:
            chat = self.state.chats[chat_id] = _chat(self.channel_id, chat_id, user_id, state)
            self.state.messages.setdefault(chat_id, [])
            return copy.deepcopy(chat)

    def add_user_message(
        self,
        chat_id: str,
        text: str,
        *,
        message_id: str | None = None,
        created_at_ms: int | None = None,
    ) -> Json:
        """Store a customer message without delivering a webhook (a 'lost' delivery)."""
        with self.lock:
            user_id = self.find_chat(chat_id)["userId"]
            message = _message(self.channel_id, chat_id, "user", user_id, _text(text),
                               message_id=message_id, created_at_ms=created_at_ms)  # fmt: skip
            return self.store_message(message)

    def set_webhook(self, url: str, token: str, blocked: bool = False) -> Json:
        """Register a webhook, or update the one already registered for `url`."""
        with self.lock:
            hook = next((w for w in self.state.webhooks if w["url"] == url), None)
            if hook is None:
                hook = _webhook(self.channel_id, url)
                self.state.webhooks.append(hook)
            hook.update(token=token, blocked=blocked, lastBlockedAt=_ms() if blocked else None)
            return copy.deepcopy(hook)

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` matching calls get `status` (recorded, no state change, no auth).

        The response carries `headers` plus limit/remaining only: a scripted 429 has an
        `x-ratelimit-reset` only if the test gives one, so tests control the client's wait.
        """
        failure = _Failure(method.upper(), path_prefix, status, dict(headers or {}), times)
        with self.lock:
            self._failures.append(failure)

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str, path_prefix: str) -> list[ApiCall]:
        with self.lock:
            return [
                c
                for c in self.calls
                if c.method == method.upper() and c.path.startswith(path_prefix)
            ]

    def posts_to(self, chat_id: str) -> list[ApiCall]:
        """Every message POST into the chat, including ones answered with an error."""
        path = f"/open/v5/user-chats/{chat_id}/messages"
        return [c for c in self.calls_to("POST", path) if c.path == path]

    def messages_text(self, chat_id: str) -> list[str]:
        """Text of each message the fake accepted into the chat, blocks joined by a blank line."""
        accepted = [c for c in self.posts_to(chat_id) if 200 <= c.status < 300]
        return [_joined(list((c.json or {}).get("blocks") or [])) for c in accepted]

    def chat(self, chat_id: str) -> Json:
        with self.lock:
            return copy.deepcopy(self.find_chat(chat_id))

    # -- webhook deliveries ------------------------------------------------------------------

    def message_event(
        self,
        chat_id: str,
        user_id: str,
        text: str,
        *,
        message_id: str | None = None,
        person_type: str = "user",
        chat_type: str = "userChat",
        created_at_ms: int | None = None,
        event: str = "push",
        type_: str = "message",
    ) -> Json:
        """A §1.4 message delivery. `user_id` is the author (`personId`).

        A message in a known user chat is also stored (upserted by id), as Channel would have
        it in the history; `refers.user` is the chat's customer when known.
        """
        with self.lock:
            message = _message(self.channel_id, chat_id, person_type, user_id, _text(text),
                               message_id=message_id, created_at_ms=created_at_ms,
                               chat_type=chat_type)  # fmt: skip
            chat = self.state.chats.get(chat_id) if chat_type == "userChat" else None
            refers: Json = {}
            customer = self.state.users.get(chat["userId"] if chat else user_id)
            if customer is not None:
                refers["user"] = customer
            if chat is not None:
                self.store_message(message)
                refers["userChat"] = chat
            envelope = {"event": event, "type": type_, "entity": message, "refers": refers}
            return copy.deepcopy(envelope)

    def user_chat_opened_event(self, chat_id: str, *, event: str = "push") -> Json:
        """`userChat.opened`: entity is the chat; refers hold its user and latest message."""
        with self.lock:
            chat = self.find_chat(chat_id)
            refers: Json = {}
            if chat["userId"] in self.state.users:
                refers["user"] = self.state.users[chat["userId"]]
            if self.state.messages.get(chat_id):
                refers["message"] = self.state.messages[chat_id][-1]
            envelope = {"event": event, "type": "userChat", "entity": chat, "refers": refers}
            return copy.deepcopy(envelope)

    def user_deleted_event(
        self, user_id: str, member: bool = True, *, event: str = "delete"
    ) -> Json:
        """`member.deleted` / `lead.deleted`: entity is the user, whom the fake then forgets.

        The v5 `event` string is unverified (docs: push/upsert/update; the n8n node compares it
        to scope names), hence a parameter; "delete" is a guess.
        """
        with self.lock:
            user = self.state.users.pop(user_id, None) or {"id": user_id}
        user = {**user, "channelId": self.channel_id, "updatedAt": _ms()}
        user.update(type="member" if member else "lead", member=member)
        if not member:
            user["memberId"] = None
        return {"event": event, "type": "user", "entity": user, "refers": {}}

    def deliver(
        self, url: str, token: str, payload: Json | bytes, *, client: httpx.Client | None = None
    ) -> httpx.Response:
        """POST like Channel does: JSON body, `?token=` appended. `client` may be a TestClient."""
        raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False)
        target = f"{url}{'&' if '?' in url else '?'}{urlencode({'token': token})}"
        headers = {"Content-Type": "application/json"}
        if client is not None:
            response = client.post(target, content=raw, headers=headers)
        else:
            response = httpx.post(target, content=raw, headers=headers, timeout=10.0)
        with self.lock:
            self.deliveries.append(Delivery(url, payload, response.status_code, time.time()))
        return response

    # -- used by the request handler (call with the lock held) -------------------------------

    def find_chat(self, chat_id: str) -> Json:
        if chat_id not in self.state.chats:
            raise _NotFound("userChat")
        return self.state.chats[chat_id]

    def store_message(self, message: Json) -> Json:
        """Upsert by id: a re-delivered event must not duplicate chat history."""
        history = self.state.messages.setdefault(message["chatId"], [])
        history[:] = [m for m in history if m["id"] != message["id"]]
        history.append(message)
        return copy.deepcopy(message)

    def rate_headers(self) -> dict[str, str]:
        """A per-minute window like §3.5's headers; the fake never throttles on its own."""
        now = time.time()
        window = now - now % 60
        used = sum(1 for c in self.calls if c.at >= window)
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, RATE_LIMIT - used)),
            "x-ratelimit-reset": str(int(window) + 60),
        }

    def handle(self, call: ApiCall) -> tuple[int, Json, dict[str, str]]:
        """Record and answer one call: a scripted failure first, then auth, then the route."""
        with self.lock:
            self.calls.append(call)
            headers = self.rate_headers()
            failure = self._take_failure(call)
            if failure is not None:
                del headers["x-ratelimit-reset"]
                if failure.status == 429:
                    headers["x-ratelimit-remaining"] = "0"
                return failure.status, _error(failure.status, "scripted"), headers | failure.headers
            credentials = (call.headers.get("x-access-key"), call.headers.get("x-access-secret"))
            if credentials != (self.access_key, self.access_secret):
                return 401, _error(401, "invalid credentials"), headers
            try:
                status, body = _route(self, call)
            except _NotFound as exc:
                status, body = 404, _error(404, f"{exc} not found")
            return status, copy.deepcopy(body), headers

    def _take_failure(self, call: ApiCall) -> _Failure | None:
        for failure in self._failures:
            if failure.method == call.method and call.path.startswith(failure.prefix):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None


def _page(items: list[Json], query: dict[str, str]) -> tuple[list[Json], str | None]:
    """Sort by createdAt per `sortOrder` (default desc); `since` is an offset cursor here."""
    items = sorted(items, key=lambda i: i["createdAt"], reverse=query.get("sortOrder") != "asc")
    start, limit = int(query.get("since") or 0), int(query.get("limit") or 25)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def _route(fake: FakeChannelTalk, call: ApiCall) -> tuple[int, Json]:
    s, q = fake.state, call.query
    match (call.method, call.path.removeprefix("/open/v5/").split("/")):
        case ("GET", ["channel"]):
            return 200, {"channel": {"id": fake.channel_id, "name": fake.channel_name}}
        case ("GET", ["webhooks"]):
            return 200, {"webhooks": s.webhooks, "next": None}
        case ("GET", ["users", user_id]):
            return 200, {"user": _find_user(s, user_id), "online": None}
        case ("GET", ["user-chats"]):
            chats = [c for c in s.chats.values() if c["state"] == q.get("state", c["state"])]
            page, nxt = _page(chats, q)
            owners = dict.fromkeys(c["userId"] for c in page)
            users = [s.users[u] for u in owners if u in s.users]
            return 200, {"userChats": page, "users": users, "next": nxt}
        case ("GET", ["user-chats", chat_id]):
            chat = fake.find_chat(chat_id)
            return 200, {"userChat": chat, "user": s.users.get(chat["userId"])}
        case ("PATCH", ["user-chats", chat_id]):
            chat = fake.find_chat(chat_id)
            chat.update(description=(call.json or {}).get("description"), updatedAt=_ms())
            return 200, {"userChat": chat}
        case ("GET", ["user-chats", chat_id, "messages"]):
            fake.find_chat(chat_id)
            page, nxt = _page(s.messages[chat_id], q)
            return 200, {"messages": page, "prev": None, "next": nxt, "bots": []}
        case ("POST", ["user-chats", chat_id, "messages"]):
            return 200, _post_message(fake, chat_id, call)
    return 404, _error(404, "no such route")


def _find_user(s: _State, user_id: str) -> Json:
    if user_id.startswith("@"):  # GET /users/@{memberId}
        for user in s.users.values():
            if user["memberId"] == user_id[1:]:
                return user
    elif user_id in s.users:
        return s.users[user_id]
    raise _NotFound("user")


def _post_message(fake: FakeChannelTalk, chat_id: str, call: ApiCall) -> Json:
    """Append a bot message; the sender is the `botName` bot (any name is accepted)."""
    fake.find_chat(chat_id)
    body = call.json or {}
    name = call.query.get("botName") or fake.channel_name
    bot = {"id": f"bot-{name}", "name": name}
    message = _message(fake.channel_id, chat_id, "bot", bot["id"], list(body.get("blocks") or []),
                       request_id=body.get("requestId"),
                       options=list(body.get("options") or []))  # fmt: skip
    return {"message": fake.store_message(message), "bot": bot}


def _handler_for(fake: FakeChannelTalk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is used
        disable_nagle_algorithm = True  # headers and body are two writes: avoid ~40 ms stalls

        def _serve(self) -> None:
            call = self._read_call()
            status, payload, headers = fake.handle(call)
            call.status = status
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            for name, value in (headers | {"content-type": "application/json"}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read_call(self) -> ApiCall:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            return ApiCall(self.command, unquote(url.path), dict(parse_qsl(url.query)), headers,
                           body, time.time(), raw_path=url.path)  # fmt: skip

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
