"""Encryption of personal data at rest (AES-256-GCM) and keyed hashes.

One master key (RIGHTSDESK_DATA_KEY, urlsafe base64 of 32 bytes) is split with HKDF into
independent subkeys, so the blind index and the secret hashes cannot be turned back into the
encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.text import normalize, normalize_phone
from app.private_files import private_dir

_VERSION = "v1"
_NONCE_BYTES = 12


DEV_KEY_FILE = "data.key"


class DataKeyError(ValueError):
    """The data key is missing or malformed."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise DataKeyError("RIGHTSDESK_DATA_KEY is not valid base64") from exc
    if len(raw) != 32:
        raise DataKeyError("RIGHTSDESK_DATA_KEY must decode to exactly 32 bytes")
    return raw


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def load_or_create_dev_key(data_dir: Path) -> str:
    """Development only: a key kept beside the database so `make run` needs no setup."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    private_dir(data_dir)
    key = new_key_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


# Text people type (subjects, requesters, staff, holders, chats): scrubbed on the way into
# storage by the `scrub` the runtime gives the vault (the RRN mask, app/workflows/rrn.py).
# Identity fields (names, contacts) are not free text.
FREE_TEXT_FIELDS = frozenset(
    {
        "request.details",
        "request.correction",
        "delegation.fields",
        "reply.body",
        "internal_note.body",
        "identity_check.note",
        "decision.reason",
        "decision.changes",
        "decision.ad_explanation",
        "decision.approval_note",
        "postponement.reason",
        "info_request.message",
        "task.note",
        "task.reason",
        "chat_message.text",
        "chat_candidate.text",
        "inbound.raw",
        "notice.body",
        "notice.subject",
        "idempotency.response",
    }
)


class Vault:
    """Encrypts fields with AES-GCM; the field name is bound as associated data."""

    def __init__(self, master_key: bytes, *, scrub: Callable[[str], str]) -> None:
        self._master = master_key
        self._scrub = scrub
        self._aead = AESGCM(_derive(master_key, b"rightsdesk/field-encryption"))
        self._index_key = _derive(master_key, b"rightsdesk/blind-index")
        self._secret_key = _derive(master_key, b"rightsdesk/secret-hash")

    def derive(self, purpose: str) -> bytes:
        """An independent 32-byte subkey for another use (e.g. evidence files)."""
        return _derive(self._master, f"rightsdesk/{purpose}".encode())

    @classmethod
    def from_text(cls, key_text: str, *, scrub: Callable[[str], str]) -> Vault:
        return cls(decode_key(key_text), scrub=scrub)

    def encrypt(self, plaintext: str, *, field: str) -> str:
        if field in FREE_TEXT_FIELDS:
            # The last line of defence: whatever path free text took, no RRN is stored.
            plaintext = self._scrub(plaintext)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), field.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, field: str) -> str:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise ValueError(f"unknown ciphertext version for {field}")
        raw = base64.urlsafe_b64decode(body)
        return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], field.encode()).decode()

    def encrypt_opt(self, plaintext: str | None, *, field: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, field=field)

    def decrypt_opt(self, token: str | None, *, field: str) -> str | None:
        return None if token is None else self.decrypt(token, field=field)

    def blind_index(self, value: str, *, field: str) -> str:
        """Keyed hash for equality lookups on encrypted columns."""
        canon = normalize_phone(value) if field.endswith("phone") else normalize(value)
        msg = field.encode() + b"\x00" + canon.encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()

    def hash_secret(self, secret: str) -> str:
        """Keyed hash of a short secret (access codes): useless without the data key."""
        return hmac.new(self._secret_key, secret.encode(), hashlib.sha256).hexdigest()


def hash_token(token: str) -> str:
    """Staff bearer tokens carry 256 bits of entropy, so a plain SHA-256 suffices and survives
    a rotation of the data key."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "rdk_" + secrets.token_urlsafe(32)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
