"""Encrypted, streaming storage for evidence files.

Each file is sealed with AES-256-GCM in fixed-size chunks using the STREAM construction
(Hoang, Reyhanitabar, Rogaway, Vizár 2015), in the layout Tink's streaming AEAD uses:

    header  = b"RDEV" | version (1 byte, 0x01) | chunk size (4 bytes, big-endian)
              | salt (16 random bytes) | nonce prefix (7 random bytes)            -> 32 bytes
    file key = HKDF-SHA256(store key, salt=salt, info=b"rightsdesk/evidence-file/v1")
    chunk i = AES-GCM(file key).encrypt(
                  nonce = prefix | i (4 bytes, big-endian) | last (1 byte: 0x01 on the final
                          chunk, 0x00 otherwise),
                  data  = plaintext[i * chunk size : (i + 1) * chunk size],
                  aad   = header | blob key (ASCII))                             -> chunk + 16

Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds the rest
(possibly 0 bytes, for an empty file), so a file always has at least one chunk. Reordering
(the counter), truncation at a chunk boundary (the last-chunk flag), a file copied or renamed
to another key (the key in the associated data) and any flipped bit (the GCM tag) all make
decryption fail with `BlobCorrupted`.

The per-file key from a random salt keeps nonces unique per key without a counter on disk: a
7-byte random prefix alone, under one key for every file, would run into the birthday bound
after a few thousand files.

Files are named by a random 128-bit id (32 hex characters), fanned out into `root/ab/abcd...`,
written under a temporary name in the same directory, fsynced and renamed into place on commit.
Neither a writer nor a reader holds more than one chunk of plaintext.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.private_files import private_dir

MAGIC = b"RDEV"
VERSION = 1
SALT_BYTES = 16
PREFIX_BYTES = 7
TAG_BYTES = 16
_HEADER = struct.Struct(f">4sBI{SALT_BYTES}s{PREFIX_BYTES}s")
HEADER_BYTES = _HEADER.size  # 32
HEAD_BYTES = 262  # what `filetype` looks at
DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024
_MAX_CHUNKS = 2**32  # the counter is 4 bytes
_FILE_KEY_INFO = b"rightsdesk/evidence-file/v1"
_KEY_RE = re.compile(r"[0-9a-f]{32}")
_PARTIAL_SUFFIX = ".partial"


class BlobCorrupted(ValueError):
    """The stored file was altered, truncated, reordered or belongs to another key."""


class BlobNotFound(LookupError):
    """No committed file under this key."""


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


def _file_key(store_key: bytes, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_FILE_KEY_INFO)
    return AESGCM(hkdf.derive(store_key))


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobWriter:
    """Encrypts what is written, one chunk at a time, into a temporary file.

    `commit()` makes it visible under `key`; `abort()` (or leaving a `with` block without a
    commit, normally or by an exception) removes it.
    """

    def __init__(self, store_key: bytes, directory: Path, key: str, chunk_size: int) -> None:
        self.key = key
        self._chunk = chunk_size
        self._final = directory / key
        self._tmp = directory / f".{key}{_PARTIAL_SUFFIX}"
        salt = os.urandom(SALT_BYTES)
        self._prefix = os.urandom(PREFIX_BYTES)
        header = _HEADER.pack(MAGIC, VERSION, chunk_size, salt, self._prefix)
        self._aad = header + key.encode("ascii")
        self._aead = _file_key(store_key, salt)
        self._buf = bytearray()
        self._counter = 0
        self._size = 0
        self._hash = hashlib.sha256()
        self._head = b""
        self._state = "open"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self._tmp, flags, 0o600)
        self._fh: BinaryIO = os.fdopen(fd, "wb")
        try:
            self._fh.write(header)
        except BaseException:
            self.abort()
            raise

    @property
    def size(self) -> int:
        """Plaintext bytes written so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the plaintext written so far."""
        return self._hash.hexdigest()

    @property
    def head(self) -> bytes:
        """The first (up to) 262 plaintext bytes, for sniffing the file type."""
        return self._head

    @property
    def closed(self) -> bool:
        return self._state != "open"

    @property
    def committed(self) -> bool:
        return self._state == "committed"

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._state != "open":
            raise ValueError(f"blob writer is {self._state}")
        view = memoryview(data).cast("B")
        n = len(view)
        if not n:
            return
        self._hash.update(view)
        if len(self._head) < HEAD_BYTES:
            self._head += bytes(view[: HEAD_BYTES - len(self._head)])
        self._size += n
        pos = 0
        while pos < n:
            if len(self._buf) == self._chunk:
                # More data follows, so the buffered chunk is not the last one.
                self._seal(last=False)
            take = min(self._chunk - len(self._buf), n - pos)
            self._buf += view[pos : pos + take]
            pos += take

    def _seal(self, *, last: bool) -> None:
        if self._counter >= _MAX_CHUNKS:
            raise OverflowError("evidence file too large for the chunk counter")
        nonce = _nonce(self._prefix, self._counter, last)
        self._fh.write(self._aead.encrypt(nonce, self._buf, self._aad))
        self._counter += 1
        self._buf = bytearray()

    def commit(self) -> StoredBlob:
        if self._state != "open":
            raise ValueError(f"blob writer is {self._state}")
        try:
            self._seal(last=True)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self._tmp, self._final)
            _fsync_dir(self._final.parent)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        return StoredBlob(self.key, self._size, self.sha256)

    def abort(self) -> None:
        """Discards everything written; safe to call more than once."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._buf = bytearray()
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()  # a no-op after commit()


class BlobReader(Iterator[bytes]):
    """Yields the decrypted chunks of one file, verifying each before it is returned.

    Every chunk is authenticated on its own, so what was yielded before a `BlobCorrupted` is
    genuine; a stream that ends without error was complete and unaltered.
    """

    def __init__(self, fh: BinaryIO, store_key: bytes, key: str) -> None:
        self._fh: BinaryIO | None = fh
        try:
            header = fh.read(HEADER_BYTES)
            if len(header) != HEADER_BYTES:
                raise BlobCorrupted("evidence file header is truncated")
            magic, version, chunk, salt, prefix = _HEADER.unpack(header)
            if magic != MAGIC:
                raise BlobCorrupted("not an evidence file")
            if version != VERSION:
                raise BlobCorrupted(f"unknown evidence file version {version}")
            if not 1 <= chunk <= MAX_CHUNK:
                raise BlobCorrupted("evidence file header is damaged")
            body = os.fstat(fh.fileno()).st_size - HEADER_BYTES
            if body < TAG_BYTES:
                raise BlobCorrupted("evidence file has no final chunk")
        except BaseException:
            self.close()
            raise
        self._segment = chunk + TAG_BYTES
        self._end = HEADER_BYTES + body
        self._pos = HEADER_BYTES
        self._prefix = prefix
        self._aad = header + key.encode("ascii")
        self._aead = _file_key(store_key, salt)
        self._counter = 0
        chunks = -(-body // self._segment)
        self.size = body - TAG_BYTES * chunks
        """Plaintext size, from the file length (confirmed once the last chunk verifies)."""

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        while self._fh is not None:
            sealed = self._fh.read(self._segment)
            self._pos += len(sealed)
            last = self._pos >= self._end
            if len(sealed) < TAG_BYTES or (not last and len(sealed) != self._segment):
                self.close()
                raise BlobCorrupted("evidence file is truncated")
            try:
                plain = self._aead.decrypt(
                    _nonce(self._prefix, self._counter, last), sealed, self._aad
                )
            except InvalidTag:
                self.close()
                raise BlobCorrupted("evidence file failed authentication") from None
            self._counter += 1
            if last:
                self.close()
            if plain:
                return plain
        raise StopIteration

    def read_all(self) -> bytes:
        """The whole plaintext (for small files and tests only)."""
        return b"".join(self)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class EvidenceStore:
    """Encrypted evidence files under `root`, keyed by random ids."""

    def __init__(self, root: Path, key: bytes, chunk_size: int = DEFAULT_CHUNK) -> None:
        if len(key) != 32:
            raise ValueError("the evidence store key must be 32 bytes")
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK}")
        self.root = Path(root)
        self.chunk_size = chunk_size
        self._key = bytes(key)
        private_dir(self.root)

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise BlobNotFound(key)
        return self.root / key[:2] / key

    def create(self) -> BlobWriter:
        key = secrets.token_hex(16)
        directory = self.root / key[:2]
        try:
            directory.mkdir(mode=0o700)
            _fsync_dir(self.root)
        except FileExistsError:
            pass
        return BlobWriter(self._key, directory, key, self.chunk_size)

    def open(self, key: str) -> BlobReader:
        """Opens now (so a missing or damaged file fails before any byte is sent); the chunks
        are read and decrypted as the returned iterator is consumed."""
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        return BlobReader(fh, self._key, key)

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except BlobNotFound:
            return False

    def delete(self, key: str) -> bool:
        """Removes the file; False if there was none."""
        try:
            self._path(key).unlink()
        except (BlobNotFound, FileNotFoundError):
            return False
        return True

    def committed_keys(self, older_than: float) -> Iterator[str]:
        """Keys of the committed files last written more than `older_than` seconds ago."""
        cutoff = time.time() - older_than
        for path in self.root.glob("??/*"):
            if not _KEY_RE.fullmatch(path.name) or path.parent.name != path.name[:2]:
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    yield path.name

    def remove_partials(self, older_than: float = 3600.0) -> int:
        """Removes temporary files left by a process that died mid-upload (ciphertext only)."""
        cutoff = time.time() - older_than
        removed = 0
        for path in self.root.glob(f"??/.*{_PARTIAL_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed
