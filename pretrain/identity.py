"""What a training source holds, as a fingerprint: ``--resume`` compares contents, not paths.

A run folder records the fingerprint of every source (``config.json``: ``train.data_identity``);
``--resume`` refuses to continue when a source's fingerprint changed, e.g. the shards under the
same ``--data`` path were rendered again with another kind, seed or size, or shards were added
or removed. The fingerprint covers:

* shards: the kind, parameters, seed, size, mode and counts of ``dataset.json`` (not the
  ``versions`` and ``device`` that a re-render elsewhere may change without changing a byte) and
  the name and sha256 (from its sidecar) of every shard the source reads;
* a pattern rendered on the fly: its kind, parameters, seed, size and mode;
* audio: the path (relative to the folder) and size of every file.

Computing it reads ``dataset.json`` and the sidecars, or lists the audio files: no sample is
decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pretrain.sources import Source

#: ``dataset.json`` fields that may change when identical shards are rendered again elsewhere.
VOLATILE_INFO = ("versions", "device")


def source_identity(source: Source) -> str:
    """16 hex digits that change whenever the data ``source`` yields can change."""
    digest = hashlib.sha256(source.kind.encode())
    if source.kind == "pattern":
        digest.update(json.dumps(source.pattern.describe(), sort_keys=True).encode())
    elif source.kind == "shards":
        from generators.shards import read_dataset_info, read_sidecar

        info = read_dataset_info(Path(source.path))
        digest.update(json.dumps({k: v for k, v in info.items() if k not in VOLATILE_INFO},
                                 sort_keys=True).encode())
        for unit in source.units:
            sidecar = read_sidecar(Path(unit))
            digest.update(f"\0{Path(unit).name}\0{sidecar.sha256 if sidecar else 'no sidecar'}".encode())
    else:
        for unit in source.units:
            digest.update(f"\0{os.path.relpath(unit, source.path)}\0{os.path.getsize(unit)}".encode())
    return digest.hexdigest()[:16]
