"""Progress of long steps (decode, embed, fit): a tqdm bar on a terminal, otherwise one plain
line at most every ``every`` seconds (so logs of a long run are never silent for minutes and
stay readable)."""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def report_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def progress(items: Iterable[T], total: int, desc: str, unit: str = "clips", every: float = 30.0,
             report: Callable[[str], None] = report_stderr) -> Iterator[T]:
    """Yield ``items``; show ``desc: done/total unit`` on stderr while doing so."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit.rstrip("s") or unit, leave=False)
        return
    t0 = last = time.monotonic()
    for n, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every and n < total:
            report(f"{desc}: {n}/{total} {unit} ({now - t0:.0f} s)")
            last = now
