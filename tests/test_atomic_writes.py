"""docs/design.md, "Atomic writes": the packages write files only through generators/atomic.py
(a killed process never leaves a half-written file under the final name). This finds any other
way of writing a file: ``Path.write_text``/``write_bytes`` and ``open(..., "w"/"a"/"x")``."""
from __future__ import annotations

import ast

from tests.helpers import REPO

PACKAGES = ("shaders", "generators", "pretrain", "finetune", "tools")


def direct_writes(tree: ast.Module) -> list[int]:
    """Lines that write a file without the atomic writer."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("write_text", "write_bytes") and len(node.args) == 1:
            lines.append(node.lineno)       # Path.write_text(data); checkpoint.write_text(path, data) is atomic
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in ("open", "fdopen"):
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wax"):
                lines.append(node.lineno)
    return lines


def test_the_check_sees_each_way_of_writing():
    tree = ast.parse("from pathlib import Path\nPath('a').write_text('x')\nopen('b', 'w')\n"
                     "open('c', mode='ab')\nopen('d')\nckpt.write_text(p, 'x')\nos.fdopen(fd, 'wb')\n")
    assert direct_writes(tree) == [2, 3, 4, 7]


#: Writes that are not files read back later, each with the text of its line: append-only logs
#: and lock files (a torn last line is what a reader of a log expects), a pipe, a probe.
ALLOWED = {
    ("shaders/service.py", 'os.fdopen(os.dup(sys.stdout.fileno()), "wb")'): "the render service's protocol pipe",
    ("generators/output_paths.py", 'with open(path, "ab"):'): "probes that an output file can be created",
    ("generators/shards.py", "tarfile.open(fileobj=_HashingWriter(self._target.file"): "streams into an AtomicFile",
    ("pretrain/train.py", 'with open(out / "log.jsonl", "a") as handle:'): "appends one log record per interval",
    ("tools/steps.py", 'with open(path, "a") as handle:'): "the CPU lock file (flock)",
    ("tools/steps.py", 'with open(log_path, "a") as handle:'): "a step's command log",
    ("tools/study/run.py", 'handle = open(log, "a")'): "a unit's command log",
    ("tools/study/run.py", 'with open(self._lock(f"unit-{unit.name}"), "a") as handle:'): "a unit's lock file",
}


def test_every_file_is_written_through_generators_atomic():
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == "generators/atomic.py":   # the writer itself
                continue
            text = path.read_text()
            lines = text.splitlines()
            found += [f"{rel}:{n}: {lines[n - 1].strip()}" for n in direct_writes(ast.parse(text, rel))
                      if not any(r == rel and snippet in lines[n - 1] for r, snippet in ALLOWED)]
    assert not found, "write these through generators/atomic.py (write_bytes_atomic, write_json_atomic, " \
                      "atomic_open, append_json_lines):\n" + "\n".join(found)
