"""Evidence files (신분증 사본, 위임장, 가족관계증명서): encrypted storage and streaming upload.

`store` keeps each file encrypted on disk in 64 KiB AES-256-GCM chunks and never holds a whole
file in memory; `multipart` reads a multipart/form-data body as it arrives and streams every
file part straight into the store, deciding the file type from its first bytes.
"""

from __future__ import annotations

from app.evidence.multipart import (
    Upload,
    UploadedFile,
    UploadLimits,
    read_upload,
)
from app.evidence.sniff import ACCEPTED_TYPES
from app.evidence.store import (
    BlobCorrupted,
    BlobNotFound,
    BlobReader,
    BlobWriter,
    EvidenceStore,
    StoredBlob,
)

__all__ = [
    "ACCEPTED_TYPES",
    "BlobCorrupted",
    "BlobNotFound",
    "BlobReader",
    "BlobWriter",
    "EvidenceStore",
    "StoredBlob",
    "Upload",
    "UploadLimits",
    "UploadedFile",
    "read_upload",
]
