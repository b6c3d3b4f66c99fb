"""The neural kinds in shards: batches are a pure function of the shard, so the bytes do not
depend on workers, nodes or resumption; ``--device``; what a batch may change in a sample."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from generators.params import make_params
from generators.registry import get_kind
from generators.render import RenderConfig, render_dataset
from generators.sample import batches, render_sample, render_samples, sample_class_params
from tests.helpers import run_synthgen

torch = pytest.importorskip("torch")

#: Tiny settings (a few ms per image): 16 px StyleGAN at 1/32 of the paper's width, featvis
#: with 2 steps on a 32 px network input. Batches of 3 in shards of 4 leave a partial batch.
TINY = {
    "stylegan-random": ["channel_base=256", "channel_max=16", "num_classes=3"],
    "stylegan-highfreq": ["channel_base=256", "channel_max=16", "num_classes=3"],
    "stylegan-sparse": ["channel_base=256", "channel_max=16", "num_classes=3"],
    "stylegan-oriented": ["channel_base=256", "channel_max=16", "num_classes=3"],
    "featvis-random": ["steps=2", "net_size=32", "num_classes=5"],
    "featvis-deadleaves": ["steps=2", "net_size=32", "num_classes=5"],
}
NEURAL = tuple(TINY)
N, SHARD, SIZE, BATCH = 10, 4, 16, 3


def tiny_config(name: str, batch_size: int = BATCH, n: int = N) -> RenderConfig:
    kind = get_kind(name)
    params = make_params(kind.params_type, TINY[name] + [f"batch_size={batch_size}"])
    return RenderConfig(kind=name, params=params, n=n, seed=3, size=SIZE, mode="RGB",
                        shard_size=SHARD)


def digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*.tar"))}


def test_batches_are_consecutive_groups_of_the_render_order():
    assert batches([4, 5, 6, 7], 3) == [[4, 5, 6], [7]]
    assert batches([0, 3, 1, 4], 2) == [[0, 3], [1, 4]]
    assert batches([9], 8) == [[9]]
    with pytest.raises(ValueError, match="batch_size=0"):
        batches([1], 0)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict:
    """Each neural kind rendered in this process (one worker): ``{name: (folder, digests)}``."""
    out = {}
    for name in NEURAL:
        folder = tmp_path_factory.mktemp(name)
        render_dataset(tiny_config(name), folder, workers=1, progress=False)
        out[name] = (folder, digests(folder))
        assert len(out[name][1]) == 3
    return out


@pytest.mark.parametrize("name", NEURAL)
def test_shards_are_identical_for_nodes_and_resumption(name, references, tmp_path):
    config = tiny_config(name)
    expected = references[name][1]
    nodes = tmp_path / "nodes"
    for rank in (1, 0):
        render_dataset(config, nodes, workers=1, num_nodes=2, node_rank=rank, progress=False)
    assert digests(nodes) == expected

    # a run killed after its first and last shard: the middle one is missing, a temporary left
    resumed = tmp_path / "resumed"
    render_dataset(config, resumed, workers=1, num_nodes=2, node_rank=0, progress=False)
    (resumed / f"{name}-000001.tar.tmp77").write_bytes(b"partial")
    result = render_dataset(config, resumed, workers=1, progress=False)
    assert (result["rendered"], result["skipped"]) == (1, 2)
    assert digests(resumed) == expected
    assert not list(resumed.glob("*tmp*"))


def _render_in_worker(job: tuple) -> str:
    """One shard of one kind in a fresh worker state (as a pool worker of ``render_dataset``)."""
    from pathlib import Path

    from generators.render import _init_worker, render_shard

    name, out, shard, first, stop = job
    config = tiny_config(name)
    kind = get_kind(name)
    _init_worker(config, [sample_class_params(kind, config.params, config.seed, c)
                          for c in range(config.params.num_classes)])
    render_shard(Path(out), shard, first, stop)
    return name


def test_shards_are_identical_when_other_processes_render_them(references, tmp_path):
    """What ``--workers 2`` changes: shards rendered by other processes, each after other
    shards (of other kinds here: one spawned pool for all six keeps this test fast)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = []
    for name in NEURAL:
        (tmp_path / name).mkdir()
        jobs += [(name, str(tmp_path / name), k, k * SHARD, min(N, (k + 1) * SHARD))
                 for k in (2, 0, 1)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert sorted(pool.map(_render_in_worker, jobs)) == sorted(j[0] for j in jobs)
    for name in NEURAL:
        assert digests(tmp_path / name) == references[name][1], name


@pytest.mark.parametrize("name", NEURAL)
def test_a_shard_sample_is_the_sample_of_its_batch(name, references):
    """The bytes of a sample are those of ``render_samples`` over its batch: consecutive
    indices of its shard, cut at multiples of batch_size from the shard's first index."""
    from generators.reader import finished_shards, iter_samples

    config = tiny_config(name)
    stored = {s["index"]: s["image"]
              for s in iter_samples(finished_shards(references[name][0]))}
    kind = get_kind(name)
    context = kind.build_context(config.params)
    for batch in ([4, 5, 6], [7], [8, 9]):                # shard 1 = 4..7, shard 2 = 8, 9
        rendered = render_samples(kind, config.params, config.seed, batch, SIZE, "RGB",
                                  context=context)
        for i, (image, meta) in zip(batch, rendered):
            assert meta["index"] == i
            assert np.array_equal(stored[i], image), (name, i)


@pytest.mark.parametrize("name", NEURAL[:4])
def test_stylegan_bytes_do_not_depend_on_the_batch_on_cpu(name):
    """On the CPU every StyleGAN sample is computed alone: any batch size, same bytes, and
    the same as ``render_sample``."""
    kind = get_kind(name)
    one = make_params(kind.params_type, TINY[name] + ["batch_size=1"])
    four = make_params(kind.params_type, TINY[name] + ["batch_size=4"])
    context = kind.build_context(one)
    together = render_samples(kind, four, 0, [2, 3, 4, 5], SIZE, "RGB", context=context)
    for i, (image, meta) in zip([2, 3, 4, 5], together):
        alone, meta_alone = render_sample(kind, one, 0, i, SIZE, "RGB", context=context)
        assert np.array_equal(alone, image) and meta_alone == meta


def test_featvis_batch_gives_each_image_its_own_gradient():
    """Summed losses: each image's gradient in a batch is its gradient alone (up to float
    rounding; batched convolutions round differently, which Adam's sign-like first steps can
    amplify, so the final bytes depend on the batch - a pure function of the shard)."""
    from generators.kinds._featvis import (FEATURES, batch_loss, build_network, random_start,
                                           unit_weights)
    from generators.seeding import sample_rng

    model = build_network("resnet18", 0, "cpu")
    units = [[3, 10], [7, 400], [0, 511]]

    def gradients(indices, one_leaf=False):
        """Per-image leaves (the CPU form) or the whole batch as one leaf (the GPU form)."""
        rngs = [sample_rng(1, i) for i in indices]
        starts = np.stack([random_start(r, 32) for r in rngs])
        spectra = ([torch.from_numpy(starts).requires_grad_(True)] if one_leaf else
                   [torch.from_numpy(s)[None].requires_grad_(True) for s in starts])
        weights = torch.from_numpy(unit_weights([units[i] for i in indices], FEATURES["resnet18"]))
        batch_loss(model, spectra, weights, rngs, 32, 32, "cpu").backward()
        return torch.cat([spectrum.grad for spectrum in spectra])

    together = gradients([0, 1, 2])
    torch.testing.assert_close(gradients([0, 1, 2], one_leaf=True), together)
    for i in range(3):
        alone = gradients([i])[0]
        assert alone.abs().max() > 0
        torch.testing.assert_close(together[i], alone, rtol=1e-4,
                                   atol=1e-5 * float(alone.abs().max()))
    assert not torch.allclose(together[0], together[1])


def test_batch_size_is_recorded_and_a_different_batch_size_is_another_dataset(tmp_path):
    render_dataset(tiny_config("featvis-random", n=4), tmp_path, workers=1, progress=False)
    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["params"]["batch_size"] == BATCH and info["device"] == "cpu"
    result = run_synthgen("render", "featvis-random", "--n", "4", "--size", str(SIZE),
                          "--mode", "RGB", "--seed", "3", "--shard-size", str(SHARD),
                          "--out", tmp_path, "--quiet", "--workers", "1",
                          *[f"--param={p}" for p in TINY["featvis-random"]],
                          "--param", "batch_size=2")
    assert result.returncode == 2
    assert "params differ" in result.stderr and "Traceback" not in result.stderr


def test_auto_device_without_a_gpu_renders_on_the_cpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: auto would choose it")
    result = run_synthgen("render", "stylegan-random", "--n", "2", "--size", "16",
                          "--device", "auto", "--out", tmp_path, "--quiet", "--workers", "1",
                          *[f"--param={p}" for p in TINY["stylegan-random"]])
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "dataset.json").read_text())["device"] == "cpu"


def test_device_cuda_without_a_gpu_is_a_one_line_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out = tmp_path / "out"
    result = run_synthgen("render", "featvis-random", "--n", "2", "--device", "cuda",
                          "--out", out)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith("synthgen: error: --device cuda:") and "no CUDA GPU" in message
    assert len(message.splitlines()) == 1 and not out.exists()


def test_device_cuda_for_a_cpu_kind_is_a_one_line_error(tmp_path):
    result = run_synthgen("render", "fractaldb", "--n", "2", "--device", "cuda",
                          "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "fractaldb renders on the CPU only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_cpu_dataset_is_not_resumed_on_another_device(tmp_path):
    from generators.render import DatasetMismatchError, prepare_output

    config = tiny_config("stylegan-random")
    prepare_output(tmp_path, config)
    gpu = RenderConfig(**{**config.__dict__, "device": "cuda"})
    with pytest.raises(DatasetMismatchError, match="device"):
        prepare_output(tmp_path, gpu)


def test_resume_after_sigkill_is_byte_identical(tmp_path):
    """A real kill of a render half way, then a rerun: the same bytes as one uninterrupted
    run (featvis: the kind whose bytes depend on the batch)."""
    from generators.reader import finished_shards

    name, n, shard = "featvis-random", 40, 2
    args = ["render", name, "--n", str(n), "--shard-size", str(shard), "--size", str(SIZE),
            "--mode", "RGB", "--seed", "3", "--quiet", "--workers", "1",
            *[f"--param={p}" for p in TINY[name]], "--param", f"batch_size={BATCH}"]
    full = tmp_path / "uninterrupted"
    killed = tmp_path / "killed"
    config = RenderConfig(**{**tiny_config(name, n=n).__dict__, "shard_size": shard})
    render_dataset(config, full, workers=1, progress=False)
    process = subprocess.Popen([sys.executable, "-m", "generators.cli", *args, "--out",
                                str(killed)], start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(killed.glob("*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(finished_shards(killed))
    assert 0 < done_before < n // shard, "the kill should land half way"
    result = run_synthgen(*args, "--out", killed, check=True)
    assert f"{done_before} already finished" in result.stderr
    assert digests(killed) == digests(full)
    assert not [p for p in killed.iterdir() if "tmp" in p.name]
