"""generators.nodes: a machine's share of a job array from flags or the scheduler's environment."""

from __future__ import annotations

import pytest

from generators.nodes import node_defaults, node_share, resolve_nodes


@pytest.mark.parametrize("env, expected", [
    ({}, (None, None)),
    # --array=0-3 and --array=1-4: the same ranks 0..3
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, (4, 0)),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, (4, 3)),
    # --array=10-16:2 (4 tasks)
    ({"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_STEP": "2",
      "SLURM_ARRAY_TASK_COUNT": "4"}, (4, 2)),
    ({"SLURM_ARRAY_TASK_ID": "3"}, (None, 3)),  # no MIN exported: ranks are the task ids
    ({"JOB_COMPLETION_INDEX": "2"}, (None, 2)),
    ({"JOB_COMPLETION_INDEX": "2", "SYNTHGEN_NUM_NODES": "5"}, (5, 2)),
    ({"SYNTHGEN_NUM_NODES": " 3 "}, (3, None)),
])
def test_node_defaults_from_slurm_and_kubernetes(env, expected):
    assert node_defaults(env) == expected


@pytest.mark.parametrize("env, message", [
    ({"SLURM_ARRAY_TASK_ID": "x1"}, "SLURM_ARRAY_TASK_ID='x1' in the environment must be an integer"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": ""},
     "SLURM_ARRAY_TASK_MIN='' in the environment must be an integer"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4.0"},
     "SLURM_ARRAY_TASK_COUNT='4.0' in the environment must be an integer"),
    ({"JOB_COMPLETION_INDEX": "two"}, "JOB_COMPLETION_INDEX='two' in the environment must be an integer"),
    ({"JOB_COMPLETION_INDEX": "1", "SYNTHGEN_NUM_NODES": "n"},
     "SYNTHGEN_NUM_NODES='n' in the environment must be an integer"),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2"},
     "SLURM_ARRAY_TASK_ID=3 is not SLURM_ARRAY_TASK_MIN=0 plus a multiple of SLURM_ARRAY_TASK_STEP=2"),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_STEP": "0"},
     "SLURM_ARRAY_TASK_STEP=0 in the environment must be >= 1"),
])
def test_a_variable_that_is_not_an_integer_is_named_in_one_line(env, message):
    with pytest.raises(ValueError) as error:
        node_defaults(env)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_flags_win_over_the_environment_and_ranks_are_checked():
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"}
    assert resolve_nodes(None, None, {}) == (1, 0)
    assert resolve_nodes(None, None, slurm) == (8, 4)
    assert resolve_nodes(3, 2, slurm) == (3, 2)
    assert resolve_nodes(None, 7, slurm) == (8, 7)
    assert resolve_nodes(2, None, {"JOB_COMPLETION_INDEX": "1"}) == (2, 1)
    cases = [
        ((None, None, {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4"}),
         "node rank 9 from the environment (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX) "
         "must be smaller than the node count 4 from SLURM_ARRAY_TASK_COUNT or SYNTHGEN_NUM_NODES"),
        ((None, None, {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "1"}),
         "node rank -1 from the environment (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX) "
         "must be >= 0"),
        ((None, None, {"JOB_COMPLETION_INDEX": "3"}),
         "node rank 3 from the environment (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, or JOB_COMPLETION_INDEX) "
         "must be smaller than the default node count 1 (give --num-nodes or set SYNTHGEN_NUM_NODES)"),
        ((None, None, {"JOB_COMPLETION_INDEX": "0", "SYNTHGEN_NUM_NODES": "0"}),
         "the node count 0 from SLURM_ARRAY_TASK_COUNT or SYNTHGEN_NUM_NODES must be >= 1"),
        ((4, 4, {}), "--node-rank 4 must be smaller than --num-nodes 4"),
        ((0, None, {}), "--num-nodes 0 must be >= 1"),
        ((2, -1, {}), "--node-rank -1 must be >= 0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            resolve_nodes(*call)
        assert str(error.value) == message


def test_node_share_gives_every_position_to_exactly_one_node():
    assert node_share(10, 3, 0) == [0, 3, 6, 9] and node_share(10, 3, 2) == [2, 5, 8]
    assert node_share(2, 4, 3) == [] and node_share(5, 1, 0) == [0, 1, 2, 3, 4]
    for n, nodes in [(0, 2), (7, 7), (17, 4), (3, 8)]:
        shares = [node_share(n, nodes, r) for r in range(nodes)]
        assert sorted(p for s in shares for p in s) == list(range(n))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
