"""Run under torchrun: every rank lists the sample keys of its first epoch; rank 0 writes them."""

import itertools
import json
import sys
from pathlib import Path

import torch.distributed as dist

from pretrain.data import PretrainStream
from pretrain.sources import shard_source, with_stats
from pretrain.train import setup_distributed

rank, world, _ = setup_distributed("cpu")
source = with_stats(shard_source(sys.argv[1]))
stream = PretrainStream([source], (32, 32), seed=0, rank=rank, world=world, buffer=4)
keys = [raw["__key__"] for _, raw in itertools.islice(stream.raw_items(), int(sys.argv[3]))]
gathered = [None] * world
dist.all_gather_object(gathered, keys)
if rank == 0:
    Path(sys.argv[2]).write_text(json.dumps({"world": world, "backend": dist.get_backend(), "keys": gathered}))
dist.destroy_process_group()
