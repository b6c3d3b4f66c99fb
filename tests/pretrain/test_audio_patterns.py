"""Audio kinds as on-the-fly pre-training data: ``--data pattern:audio-...`` streams the shards'
log-mels, alone and mixed with an image kind."""

from __future__ import annotations

import itertools

import numpy as np

from generators.params import make_params
from generators.reader import finished_shards, iter_samples
from generators.registry import get_kind
from generators.render import RenderConfig, render_dataset
from pretrain.data import PretrainStream
from pretrain.patterns import compute_classes, parse_pattern_spec
from pretrain.sources import pattern_source, with_stats
from pretrain.transforms import NO_AUGMENT

SIZE = 32


def ready(spec):
    source = pattern_source(spec, SIZE)
    source.pattern.classes = compute_classes(source.pattern.spec, 1, progress=False)
    return with_stats(source, 0.0, 1.0)


def test_pattern_stream_of_an_audio_kind_equals_its_shards(tmp_path):
    spec = parse_pattern_spec("pattern:audio-fm,index_max=4,seed=2,size=32")
    assert spec.kind == "audio-fm" and spec.items == ("index_max=4",) and spec.size == 32
    params = make_params(get_kind("audio-fm").params_type, ["index_max=4"])
    render_dataset(RenderConfig("audio-fm", params, n=6, seed=2, size=SIZE, shard_size=3), tmp_path,
                   workers=1, progress=False)
    images = [s["image"] for s in iter_samples(finished_shards(tmp_path))]
    source = ready("pattern:audio-fm,index_max=4,seed=2")
    for i, image in enumerate(images):
        assert np.array_equal(source.pattern.render(i), image)


def test_audio_and_image_kinds_mix_in_one_stream():
    sources = [ready("pattern:audio-mix,seed=1"), ready("pattern:stat-spectrum,seed=1")]
    stream = PretrainStream(sources, (SIZE, SIZE), seed=0, augment=NO_AUGMENT, buffer=1)
    items = list(itertools.islice(stream.raw_items(), 40))
    drawn = {k for k, _ in items}
    assert drawn == {0, 1}, "both sources are drawn (equal weights)"
    for k, raw in items[:6]:
        image = sources[k].pattern.render(raw)
        assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8
        pixels = np.round(stream.transform(k, raw, 0, 0)[0].numpy() * 255).astype(np.uint8)
        assert np.array_equal(pixels, image)  # standardised to identity, no augmentation


def test_a_pattern_source_too_large_for_an_audio_kind_is_refused_when_parsed():
    import pytest

    with pytest.raises(ValueError, match=r"^--data pattern:audio-mix: pattern kind 'audio-mix' renders "
                                         r"sizes up to 191 \(size mel bins x size frames; .*size 256 is too large$"):
        pattern_source("pattern:audio-mix", 256)  # the encoder input's height
    assert pattern_source("pattern:audio-mix,size=128", 256).pattern.size == 128
