"""Worker processes that never outlive the render that started them.

A render's workers are spawned processes. If the main process dies without cleaning up
(``SIGKILL``, the OOM killer, a node losing its job), they would keep rendering and then wait
forever for work, each holding its memory, and keep the multiprocessing resource tracker
alive. Every worker therefore runs a daemon thread that polls ``os.getppid()``: once the
process that started it is gone the worker is re-parented (the pid changes) and it exits at
once with ``os._exit``. A thread is used rather than Linux's ``PR_SET_PDEATHSIG`` because the
death signal fires when the parent *thread* that forked the worker exits (pools may start
workers from other threads), and because it works on every POSIX system; its latency is the
poll interval plus the longest call that holds the GIL (one image). The resource tracker exits
by itself once the last process holding its pipe is gone.

On ``SIGTERM`` or Ctrl-C the main process calls :func:`stop_pool`: queued jobs are cancelled
and the running workers are terminated, so the command returns at once without orphans;
finished shards are kept and a rerun renders the rest.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

POLL_SECONDS = 0.5
EXIT_ORPHANED = 70


def watch_parent(parent_pid: int, poll: float = POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process when ``parent_pid`` is no longer its parent."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll)
        os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def init_worker(parent_pid: int, initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    """Pool initializer: the parent watchdog first, then the pool's own initializer."""
    watch_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def stop_pool(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Cancel queued jobs and terminate the running workers now (interrupt, ``SIGTERM``)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
