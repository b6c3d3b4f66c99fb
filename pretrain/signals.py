"""Ctrl-C (``SIGINT``) and ``SIGTERM`` during pre-training: stop at the end of the current step
and checkpoint it, like the time budget does, instead of dying with a traceback (``SIGINT``) or
without a checkpoint (``SIGTERM``: ``kill``, a batch scheduler's time limit).

While :meth:`StopSignals.installed` is active, the first of either signal only records its name
(:meth:`StopSignals.requested`); the training loop asks after every step, stops, and the run
saves a checkpoint at that step and exits with 130 (``SIGINT``) or 143 (``SIGTERM``), the codes
of a process killed by them. A second signal while the checkpoint is written acts as it would
without the handlers (``KeyboardInterrupt`` / termination); the checkpoint writes are atomic, so
the previous checkpoint then stays intact. Handlers can only be set in the main thread; called
elsewhere, :meth:`installed` changes nothing.

DataLoader worker processes ignore both signals (:func:`ignore_in_worker`): a Ctrl-C in a
terminal reaches every process of the group, and a worker that died of it would end the run
with a loader error before its checkpoint; the workers exit when the main process closes the
loader.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Exit code of a run stopped by each signal (128 + its number, as a shell reports it).
EXIT_CODES = {signal.Signals(s).name: 128 + int(s) for s in STOP_SIGNALS}


class StopSignals:
    """Records the first ``SIGINT`` / ``SIGTERM`` while installed."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def requested(self) -> str | None:
        """The name of the signal received (``"SIGINT"``, ``"SIGTERM"``), or ``None``."""
        return self.received

    def _handle(self, signum: int, frame) -> None:
        self.received = signal.Signals(signum).name
        self._restore()  # a second signal acts at once

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopSignals"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            self._restore()


def ignore_in_worker(worker_id: int) -> None:
    """``worker_init_fn`` of the DataLoader: the main process alone handles the stop signals."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
