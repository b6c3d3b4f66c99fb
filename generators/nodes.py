"""This machine's share of a job split across machines: the node count and the node rank.

``synthgen render`` (node R of K renders the shards k with ``k % K == R``) and the study presets
of ``python -m tools.reproduce`` (node R of K runs the units at plan positions i with
``i % K == R``) take them from ``--num-nodes`` / ``--node-rank``; a flag wins over the
environment, which gives them for the two schedulers in use:

- Slurm job arrays: rank ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP``
  (so ``--array=0-7``, ``--array=1-8`` and ``--array=0-14:2`` all give ranks 0..7), count
  ``SLURM_ARRAY_TASK_COUNT``;
- Kubernetes Indexed Jobs: rank ``JOB_COMPLETION_INDEX``; Kubernetes does not export the
  completion count, so the count is ``SYNTHGEN_NUM_NODES`` (set it in the pod template to the
  Job's ``completions``) or ``--num-nodes``.

Without either the defaults are one node, rank 0. Every value is checked: a non-integer
variable or a rank outside ``0 .. count-1`` is a ``ValueError`` whose one-line message names the
variable or flag it came from. Standard library only.
"""

from __future__ import annotations

import os
from typing import Mapping

#: The node count of a Kubernetes Indexed Job (or any launcher that exports a rank but no count).
COUNT_VARIABLE = "SYNTHGEN_NUM_NODES"
#: Where a rank read from the environment comes from, for messages.
RANK_SOURCE = "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX"
COUNT_SOURCE = f"SLURM_ARRAY_TASK_COUNT or {COUNT_VARIABLE}"


def _env_int(env: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    text = env.get(name)
    if text is None:
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} in the environment must be an integer") from None


def node_defaults(env: Mapping[str, str] | None = None) -> tuple[int | None, int | None]:
    """``(num_nodes, node_rank)`` from a Slurm job array or a Kubernetes Indexed Job (None for
    what the environment does not say); ``ValueError`` naming a variable that is not an integer."""
    env = os.environ if env is None else env
    if "SLURM_ARRAY_TASK_ID" in env:
        task = _env_int(env, "SLURM_ARRAY_TASK_ID")
        low = _env_int(env, "SLURM_ARRAY_TASK_MIN", 0)
        step = _env_int(env, "SLURM_ARRAY_TASK_STEP", 1)
        if step < 1:
            raise ValueError(f"SLURM_ARRAY_TASK_STEP={step} in the environment must be >= 1")
        if (task - low) % step:
            raise ValueError(f"SLURM_ARRAY_TASK_ID={task} is not SLURM_ARRAY_TASK_MIN={low} plus a multiple of "
                             f"SLURM_ARRAY_TASK_STEP={step}; submit a range such as --array=0-7")
        count = _env_int(env, "SLURM_ARRAY_TASK_COUNT")
        return (count if count is not None else _env_int(env, COUNT_VARIABLE)), (task - low) // step
    if "JOB_COMPLETION_INDEX" in env:
        return _env_int(env, COUNT_VARIABLE), _env_int(env, "JOB_COMPLETION_INDEX")
    return _env_int(env, COUNT_VARIABLE), None


def resolve_nodes(num_nodes: int | None, node_rank: int | None,
                  env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(num_nodes, node_rank)``: the flags where given, else the environment, else ``(1, 0)``;
    ``ValueError`` (one line naming the flag or variable) unless ``0 <= rank < count``."""
    env_count, env_rank = node_defaults(env)
    count_from_env = num_nodes is None and env_count is not None
    rank_from_env = node_rank is None and env_rank is not None
    count = num_nodes if num_nodes is not None else env_count if env_count is not None else 1
    rank = node_rank if node_rank is not None else env_rank if env_rank is not None else 0
    if count_from_env:
        count_text = f"the node count {count} from {COUNT_SOURCE}"
    elif num_nodes is not None:
        count_text = f"--num-nodes {count}"
    else:
        count_text = f"the default node count 1 (give --num-nodes or set {COUNT_VARIABLE})"
    rank_text = f"node rank {rank} from the environment ({RANK_SOURCE})" if rank_from_env \
        else f"--node-rank {rank}"
    if count < 1:
        raise ValueError(f"{count_text} must be >= 1")
    if rank < 0:
        raise ValueError(f"{rank_text} must be >= 0")
    if rank >= count:
        raise ValueError(f"{rank_text} must be smaller than {count_text}")
    return count, rank


def node_share(n_items: int, num_nodes: int, node_rank: int) -> list[int]:
    """The positions ``0 .. n_items-1`` that node ``node_rank`` of ``num_nodes`` takes:
    ``node_rank, node_rank + num_nodes, ...`` (every position on exactly one node; the first
    ``num_nodes`` positions, usually the cheapest, on different nodes)."""
    return list(range(node_rank, n_items, num_nodes))
