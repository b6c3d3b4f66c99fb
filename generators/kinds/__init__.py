"""Pattern kinds, one module each; every module ends with ``register(Kind(...))``.

Modules here are discovered by :func:`generators.registry.load_builtin_kinds`; adding a
file adds a kind.
"""
