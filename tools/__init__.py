"""Benchmarks, image statistics, reproduction runs and studies, grouped by job: ``bench``,
``analysis``, ``reproduce``, ``study``; ``steps`` and ``sections`` are shared by the last two."""
