"""Markdown reports as sections: the one mechanism of both report writers
(:mod:`tools.reproduce.report`, :mod:`tools.study.report`).

A section is a list of markdown lines (a ``##`` heading, paragraphs, a table, image links, blank
lines between them) returned by a function of the writer from what its folders hold; a report
is its sections in order, joined by newlines and written atomically by :func:`write_markdown`,
so a report is replaced whole or not at all. Sections both reports show live here.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Callable, Iterable, Sequence

from generators.atomic import write_bytes_atomic

Section = list[str]


def write_markdown(path: Path, sections: Iterable[Section]) -> Path:
    """Join ``sections`` (each a list of lines) with newlines into ``path``, atomically; returns it."""
    lines = [line for section in sections for line in section]
    write_bytes_atomic(Path(path), "\n".join(lines).encode())
    return Path(path)


def note_section(note: str | None) -> Section:
    """A paragraph ``**Note.** ...`` given on the command line (``--note``); nothing without one."""
    return [f"**Note.** {note}", ""] if note else []


def sheets_section(report: Path, names: Sequence[str] | None = None,
                   title: Callable[[str], str] = str) -> Section:
    """The contact sheets in ``REPORT/sheets``: those of ``names`` in that order (every sheet,
    sorted by name, when ``names`` is None), each under ``title(name)``; no section without sheets."""
    sheets = {p.stem for p in (Path(report) / "sheets").glob("*.png")}
    if not sheets:
        return []
    order = sorted(sheets) if names is None else [n for n in names if n in sheets]
    lines = ["## Contact sheets", "", "The first 16 images of every dataset (64 px thumbnails).", ""]
    for name in order:
        lines += [f"**{title(name)}**", "", f"![{name}](sheets/{name}.png)", ""]
    return lines


def machine_text() -> str:
    """``N cores, CPU model, Python version`` of this machine, as the reports state it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return f"{cores} cores, {cpu}, Python {platform.python_version()}"
