"""Group commit for API filings: one writer thread, one transaction for the filings that
arrived together.

Filings are checked and computed on the event loop (`prepare_filing`); their rows then go to
this thread, which writes whatever has queued up (up to RIGHTSDESK_INTAKE_BATCH_MAX) with one
INSERT per table and one commit, and only then answers each caller. So a 201 still means
committed, and a burst of filings costs one transaction instead of one each: SQLite's single
writer is held once, PostgreSQL gets a few round trips instead of a few per filing.

If a batch fails (a reference already taken, the database away), it is rolled back whole and
each filing is written again alone, so one bad filing never fails the others; one whose
reference was taken is filed again from the start with `file_request`.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy.exc import IntegrityError

from app.db import transaction
from app.models.request_api import RequestCreated
from app.runtime import Runtime
from app.services.filing import PreparedFiling, file_request, write_filings

log = logging.getLogger("rightsdesk")

_STOP = None


class FilingWriter:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.max_batch = rt.settings.intake_batch_max
        self._queue: queue.SimpleQueue[tuple[PreparedFiling, Future[RequestCreated]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, filing: PreparedFiling) -> Future[RequestCreated]:
        """The answer once the filing is committed (or the error that stopped it)."""
        done: Future[RequestCreated] = Future()
        self._ensure_started()
        self._queue.put((filing, done))
        return done

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rightsdesk-filings", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stopping = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            jobs = [b for b in batch if b is not None]
            try:
                self.write(jobs)
            except Exception as exc:  # never leave a caller waiting, never stop the thread
                log.error("filing writer: %s", type(exc).__name__)
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(exc)
            if stopping:
                return

    def write(self, batch: list[tuple[PreparedFiling, Future[RequestCreated]]]) -> None:
        # A caller that stopped waiting still gets its filing written, as a thread-pool call
        # would have; it just hears nothing.
        live = [(f, done if done.set_running_or_notify_cancel() else None) for f, done in batch]
        try:
            with transaction(self.rt.engine) as session:
                write_filings(session, self.rt, [f for f, _ in live])
        except Exception as exc:  # each filing is tried again alone below
            log.warning(
                "a batch of %d filings failed (%s); writing them one by one",
                len(live),
                type(exc).__name__,
            )
            for f, done in live:
                self._write_alone(f, done)
            return
        for f, done in live:
            if done is not None:
                done.set_result(f.response)

    def _write_alone(self, f: PreparedFiling, done: Future[RequestCreated] | None) -> None:
        try:
            try:
                with transaction(self.rt.engine) as session:
                    write_filings(session, self.rt, [f])
                created = f.response
            except IntegrityError:
                # Its reference was taken: filed again from the start, with a free one.
                with transaction(self.rt.engine) as session:
                    created, _ = file_request(session, self.rt, f.payload, f.ctx, f.files, f.kinds)
        except Exception as exc:  # handed to the caller, whose handler answers it
            if done is not None:
                done.set_exception(exc)
        else:
            if done is not None:
                done.set_result(created)
