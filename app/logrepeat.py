"""Log lines that anyone can cause, at most once per interval each.

A line such as "webhook called without a valid token" is written whenever a stranger calls
with a wrong token: as many times as they like. RepeatedLogs writes such a line at most once
per `every` seconds, and the next one that gets through says how many were left out in
between, so a flood shows as one line a minute with its size, not as a full disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Line:
    last: float
    left_out: int = 0


class RepeatedLogs:
    """Per (logger, message) throttle. `now` is the injected clock, in seconds."""

    def __init__(self, every: float, *, now: Callable[[], float]) -> None:
        self.every = every
        self.now = now
        self._lines: dict[tuple[str, str], _Line] = {}
        self._lock = threading.Lock()

    def warning(self, logger: logging.Logger, message: str, *args: object) -> None:
        self.log(logger, logging.WARNING, message, *args)

    def log(self, logger: logging.Logger, level: int, message: str, *args: object) -> None:
        if not logger.isEnabledFor(level):
            return
        key = (logger.name, message)
        now = self.now()
        with self._lock:
            line = self._lines.get(key)
            if line is not None and now - line.last < self.every:
                line.left_out += 1
                return
            left_out = line.left_out if line is not None else 0
            self._lines[key] = _Line(last=now)
        if left_out:
            logger.log(
                level,
                message + " (%d more like this in the last %.0f s not logged)",
                *args,
                left_out,
                self.every,
            )
        else:
            logger.log(level, message, *args)
