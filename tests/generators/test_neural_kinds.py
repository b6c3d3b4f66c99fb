"""The neural kinds (stylegan-*, featvis-*): the property each variant is named for,
determinism, the factorised wavelet convolution, and the base install without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from generators.params import make_params
from generators.registry import get_kind
from generators.sample import render_sample

torch = pytest.importorskip("torch")

STYLEGAN = ("stylegan-random", "stylegan-highfreq", "stylegan-sparse", "stylegan-oriented")
FEATVIS = ("featvis-random", "featvis-deadleaves")
SIZE = 64
N_IMAGES = 8
FAST_FEATVIS = ["steps=4", "net_size=64"]


def luminance(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def spectral_slope(image: np.ndarray) -> float:
    """Slope of the log radial power spectrum of the luminance (natural images: about -2)."""
    lum = luminance(image)
    n = lum.shape[0]
    power = np.abs(np.fft.fft2(lum - lum.mean())) ** 2
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    edges = np.arange(2, n // 2) / n
    which = np.digitize(freq.ravel(), edges)
    sums = np.bincount(which, power.ravel(), len(edges) + 1)[1:-1]
    counts = np.maximum(np.bincount(which, None, len(edges) + 1)[1:-1], 1)
    centres = (edges[:-1] + edges[1:]) / 2
    return float(np.polyfit(np.log(centres), np.log(sums / counts + 1e-12), 1)[0])


def gradient_kurtosis(image: np.ndarray) -> float:
    """Kurtosis of horizontal luminance differences (3 for Gaussian; larger = sparser)."""
    d = np.diff(luminance(image), axis=1).ravel()
    d = d - d.mean()
    return float((d ** 4).mean() / ((d ** 2).mean() ** 2 + 1e-12))


def orientation_coherence(image: np.ndarray) -> float:
    """|l1 - l2| / (l1 + l2) of the image's structure tensor: 0 isotropic, 1 one orientation."""
    gy, gx = np.gradient(luminance(image))
    a, b, c = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    return float(np.sqrt((a - b) ** 2 + 4 * c * c) / (a + b + 1e-12))


@pytest.fixture(scope="module")
def stylegan_images():
    """``N_IMAGES`` RGB images of each StyleGAN variant (seed 0, indices 0..7)."""
    images = {}
    for name in STYLEGAN:
        kind = get_kind(name)
        params = kind.params_type()
        context = kind.make_context(params)
        images[name] = [render_sample(kind, params, 0, i, SIZE, "RGB", context=context)[0]
                        for i in range(N_IMAGES)]
    return images


@pytest.mark.parametrize("name", STYLEGAN)
def test_stylegan_variant_renders_non_degenerate_colour_images(stylegan_images, name):
    for image in stylegan_images[name]:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
        assert image.std() > 10, "nearly constant image"
        assert len(np.unique(image)) > 50
        assert (image == 0).mean() < 0.5 and (image == 255).mean() < 0.5, "mostly clipped"
    # instances differ from each other
    assert not np.array_equal(stylegan_images[name][0], stylegan_images[name][1])


def test_highfreq_has_a_flatter_spectrum_than_random(stylegan_images):
    random = np.mean([spectral_slope(im) for im in stylegan_images["stylegan-random"]])
    highfreq = np.mean([spectral_slope(im) for im in stylegan_images["stylegan-highfreq"]])
    assert random < -3.5, random          # smooth blobs: power falls off steeply
    assert highfreq > random + 0.7, (highfreq, random)


def test_sparse_has_heavier_tailed_responses_than_random_and_highfreq(stylegan_images):
    kurt = {name: np.median([gradient_kurtosis(im) for im in stylegan_images[name]])
            for name in STYLEGAN}
    assert kurt["stylegan-sparse"] > 1.3 * kurt["stylegan-random"], kurt
    assert kurt["stylegan-sparse"] > 1.3 * kurt["stylegan-highfreq"], kurt


def test_oriented_has_a_dominant_orientation(stylegan_images):
    coherence = {name: np.mean([orientation_coherence(im) for im in stylegan_images[name]])
                 for name in STYLEGAN}
    assert coherence["stylegan-oriented"] > 1.5 * coherence["stylegan-random"], coherence
    assert coherence["stylegan-oriented"] > 1.5 * coherence["stylegan-highfreq"], coherence


@pytest.mark.parametrize("name", STYLEGAN + FEATVIS)
def test_cpu_rendering_is_deterministic_with_or_without_a_worker_context(name):
    kind = get_kind(name)
    params = make_params(kind.params_type, FAST_FEATVIS if name in FEATVIS else [])
    first, meta = render_sample(kind, params, 7, 3, 48, "RGB", context=kind.make_context(params))
    again, meta_again = render_sample(kind, params, 7, 3, 48, "RGB", context=None)
    assert first.shape == (48, 48, 3)                    # 48 is not a power of two
    assert np.array_equal(first, again) and meta == meta_again
    assert torch.get_num_threads() == 1                  # the worker context pins one thread


def test_instances_of_a_stylegan_class_share_the_network_seed():
    kind = get_kind("stylegan-random")
    params = make_params(kind.params_type, ["num_classes=3"])
    metas = [render_sample(kind, params, 0, i, 16, "RGB")[1] for i in (0, 3, 1)]
    assert metas[0]["class_params"] == metas[1]["class_params"]
    assert metas[0]["class_params"] != metas[2]["class_params"]


def test_wavelet_dictionaries_match_the_reference_recipes():
    from generators.kinds._stylegan import wavelet_bank

    binary = wavelet_bank("wavelets-binary")
    assert binary.shape == (40, 3, 3)
    assert set(np.unique(binary)) <= {-1.0, 0.0, 1.0}
    subset = wavelet_bank("wavelets-subset")
    assert subset.shape == (40, 3, 3)
    np.testing.assert_allclose(subset[20:], -subset[:20])            # negatives appended
    np.testing.assert_allclose(subset[:16].sum(axis=(1, 2)), 0, atol=1e-5)  # mean-free
    # the 0 deg edge is a vertical step: + left, - right
    assert subset[0][:, 0].min() > 0 > subset[0][:, 2].max()


@pytest.mark.parametrize("up", [1, 2])
def test_factorised_convolution_equals_the_modulated_convolution(up):
    from generators.kinds._stylegan import factorised_conv, modulated_conv

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 6, 8, 8, generator=gen)
    filters = torch.randn(6, 3, 3, generator=gen)
    gains = torch.randn(5, generator=gen)
    styles = torch.randn(6, generator=gen) + 1
    weight = gains[:, None, None, None] * filters[None]                 # rank one
    expected = modulated_conv(x, weight, styles[None], up, "cpu")
    got = factorised_conv(x, filters[None], gains[None], styles[None], up, "cpu")
    assert got.shape == expected.shape == (1, 5, 8 * up, 8 * up)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("up", [1, 2])
def test_grouped_gpu_form_equals_the_per_sample_cpu_form(up):
    """The GPU path folds the batch into grouped convolutions; the CPU path convolves each
    sample alone. Both are the same convolution (forced here on the CPU)."""
    from generators.kinds._stylegan import _grouped_conv

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 8, 8, generator=gen)
    weight = torch.randn(3, 5, 4, 3, 3, generator=gen)          # one weight per sample
    per_sample = _grouped_conv(x, weight, up, "cpu")
    grouped = _grouped_conv(x, weight, up, "cpu", grouped=True)
    assert per_sample.shape == grouped.shape == (3, 5, 8 * up, 8 * up)
    torch.testing.assert_close(grouped, per_sample, rtol=1e-4, atol=1e-5)
    alone = _grouped_conv(x[1:2], weight[1:2], up, "cpu")
    assert torch.equal(alone[0], per_sample[1])


def test_fourier_parameterisation_reproduces_a_start_image():
    from generators.kinds._featvis import (COLOR_DECORRELATE, image_to_spectrum,
                                           spectrum_scale, spectrum_to_image)

    image = np.random.default_rng(0).uniform(0.05, 0.95, (32, 32, 3))
    spectrum = torch.from_numpy(image_to_spectrum(image, 32))[None]
    back = spectrum_to_image(spectrum, torch.from_numpy(spectrum_scale(32)), 32,
                             torch.from_numpy(COLOR_DECORRELATE))
    np.testing.assert_allclose(back[0].permute(1, 2, 0).numpy(), image, atol=1e-5)


def _unit_activation(image: np.ndarray, units, params) -> float:
    from generators.kinds._featvis import IMAGENET_MEAN, IMAGENET_STD, build_network

    model = build_network(params.network, params.network_seed, "cpu")
    x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(x, size=(params.net_size,) * 2, mode="bilinear")
    x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        return float(model(x)[0, units].mean())


def test_featvis_optimisation_excites_the_class_units():
    kind = get_kind("featvis-random")
    few = make_params(kind.params_type, ["steps=1", "net_size=64"])
    more = make_params(kind.params_type, ["steps=24", "net_size=64"])
    context = kind.make_context(more)
    start, meta = render_sample(kind, few, 0, 5, SIZE, "RGB", context=context)
    done, meta_done = render_sample(kind, more, 0, 5, SIZE, "RGB", context=context)
    units = meta["units"]
    assert units == meta_done["units"] and len(units) == 2
    assert _unit_activation(done, units, more) > 1.5 * _unit_activation(start, units, more)
    assert done.std() > start.std()          # structure grew out of the near-grey start


def test_featvis_deadleaves_starts_from_dead_leaves():
    kind = get_kind("featvis-deadleaves")
    params = make_params(kind.params_type, ["steps=1", "net_size=64", "learning_rate=0.05"])
    image, _ = render_sample(kind, params, 0, 2, SIZE, "RGB")
    # after one step the image is still the flat-coloured leaves: few distinct colours
    # dominate and neighbouring pixels are mostly equal
    same = (np.abs(np.diff(image.astype(int), axis=1)).max(axis=2) <= 8).mean()
    assert same > 0.7, same
    random_start, _ = render_sample(get_kind("featvis-random"), params, 0, 2, SIZE, "RGB")
    assert image.std() > 3 * random_start.std()


def test_bad_parameter_values_name_the_field():
    with pytest.raises(ValueError, match="network='vgg'"):
        make_params(get_kind("featvis-random").params_type, ["network=vgg"])
    with pytest.raises(ValueError, match="channel_max=0"):
        make_params(get_kind("stylegan-sparse").params_type, ["channel_max=0"])


NEURAL_MODULES = ("stylegan_random", "stylegan_highfreq", "stylegan_sparse",
                  "stylegan_oriented", "featvis_random", "featvis_deadleaves")


def run_python(*parts: str) -> subprocess.CompletedProcess:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_importing_the_neural_kinds_does_not_import_torch():
    modules = ", ".join(f"generators.kinds.{m}" for m in NEURAL_MODULES)
    result = run_python(f"""
        import sys
        import generators, {modules}
        assert "torch" not in sys.modules, "torch imported at module import time"
        assert "torchvision" not in sys.modules
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


BLOCK_TORCH = """
    import sys
    sys.modules["torch"] = None          # what a base install without torch looks like
    sys.modules["torchvision"] = None
"""


def test_base_install_lists_the_kinds_as_needing_the_train_extra():
    result = run_python(BLOCK_TORCH, """
        from generators.cli import main
        sys.exit(main(["list"]))
    """)
    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()
             if not line.startswith(" ")}
    for name in STYLEGAN + FEATVIS:
        assert "[unavailable: needs torch" in lines[name], lines.get(name)
        assert "pip install 'synthgen[train]'" in lines[name]


def test_base_install_render_attempt_prints_a_one_line_hint(tmp_path):
    result = run_python(BLOCK_TORCH, f"""
        from generators.cli import main
        sys.exit(main(["render", "stylegan-oriented", "--n", "2", "--size", "16",
                       "--out", {str(tmp_path / 'out')!r}]))
    """)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "stylegan-oriented" in message and "pip install 'synthgen[train]'" in message
    assert "Traceback" not in message
