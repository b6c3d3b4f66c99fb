"""Unit-based studies (``python -m tools.reproduce --preset cpu-study|cpu-recipe``).

``presets`` (what a study measures), ``plan`` (its units and the rows of ``results.jsonl``),
``run`` (runs the units; ``python -m tools.study unit`` is one unit in a child process),
``stats`` (the numbers, pure functions), ``sections`` and ``plots`` (markdown and figures) and
``report`` (writes ``report.md``).
"""
