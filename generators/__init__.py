"""synthgen pattern generators: kinds, registry, shard writer and reader, ``synthgen`` CLI.

Torch-free by design: render nodes install only this package (and ``shaders``).
"""

from generators.registry import Kind, get_kind, list_kinds, register

__version__ = "0.1.0"

__all__ = ["Kind", "get_kind", "list_kinds", "register", "__version__"]
