"""synthgen pattern generators: kinds, registry, shard writer and reader, ``synthgen`` CLI.

Torch-free by design: render nodes install only this package (and ``shaders``).
"""

from generators.numba_cache import ensure_cache_dir

ensure_cache_dir()  # before any kind imports numba: kinds stay available on read-only installs

from generators.registry import Kind, get_kind, list_kinds, register  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Kind", "get_kind", "list_kinds", "register", "__version__"]
