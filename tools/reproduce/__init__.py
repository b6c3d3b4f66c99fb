"""``python -m tools.reproduce``: render -> pre-train -> evaluate pattern kinds plus baselines, one
report. ``cli`` (the command and its pipeline), ``presets`` (kinds, images, budgets), ``report``
(``report.md`` from the work folder); the study presets run through :mod:`tools.study`.
"""
