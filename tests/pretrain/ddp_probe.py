"""Run under torchrun: every rank lists the sample keys of its first epoch; rank 0 writes them.

``ddp_probe.py DATA OUT COUNT``: DATA is a shard directory (keys are sample keys) or a
``pattern:`` spec (keys are the rendered sample indices; rank 0 alone computes the class
parameters and broadcasts them, and each rank reports a digest of the ones it received).
"""

import hashlib
import itertools
import json
import sys
from pathlib import Path

import torch.distributed as dist

from pretrain.data import PretrainStream
from pretrain.sources import data_source, with_stats
from pretrain.train import setup_distributed, share_classes


def main() -> None:
    rank, world, _ = setup_distributed("cpu")
    source = data_source(sys.argv[1], 32)
    share_classes([source], rank, world, progress=False)
    source = with_stats(source)
    stream = PretrainStream([source], (32, 32), seed=0, rank=rank, world=world, buffer=4)
    keys = [raw["__key__"] if source.kind == "shards" else raw
            for _, raw in itertools.islice(stream.raw_items(), int(sys.argv[3]))]
    classes = source.pattern.classes if source.kind == "pattern" else None
    digest = hashlib.sha256(json.dumps(classes, sort_keys=True, default=str).encode()).hexdigest()
    gathered, digests = [None] * world, [None] * world
    dist.all_gather_object(gathered, keys)
    dist.all_gather_object(digests, [digest, classes is not None])
    if rank == 0:
        Path(sys.argv[2]).write_text(json.dumps({"world": world, "backend": dist.get_backend(), "keys": gathered,
                                                 "classes": digests}))
    dist.destroy_process_group()


if __name__ == "__main__":  # the class search may spawn processes
    main()
