"""What a crash mid-upload leaves in the evidence store, removed.

An upload commits each file to the store while the body streams and writes the attachment
rows at the end, in the request's transaction; a process killed in between leaves committed
files that nothing refers to (encrypted ID scans nobody can reach or purge) and the
`.partial` of the file it was writing. Both are removed once they are older than
EVIDENCE_ORPHAN_GRACE_MINUTES, so an upload still in flight is never touched.
"""

from __future__ import annotations

import logging
from itertools import islice

from sqlmodel import col, select

from app.db import transaction
from app.models.identity import Attachment
from app.runtime import Runtime

log = logging.getLogger("rightsdesk.evidence")

_BATCH = 500


def sweep(rt: Runtime) -> dict[str, int]:
    """Remove old orphans and partials; returns how many of each."""
    grace = rt.settings.evidence_orphan_grace_minutes * 60.0
    result = {"partials": rt.evidence.remove_partials(older_than=grace), "orphans": 0}
    candidates = rt.evidence.committed_keys(older_than=grace)
    while keys := list(islice(candidates, _BATCH)):
        with transaction(rt.engine) as session:
            referenced = set(
                session.exec(
                    select(Attachment.blob_key).where(col(Attachment.blob_key).in_(keys))
                ).all()
            )
        for key in keys:
            if key not in referenced and rt.evidence.delete(key):
                result["orphans"] += 1
    if result["partials"] or result["orphans"]:
        log.warning("evidence store: removed what interrupted uploads left: %s", result)
    return result
