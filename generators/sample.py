"""Rendering one sample of a dataset: random streams, class parameters, output mode, PNG.

This is the only place that calls a kind's render function, so the CLI, the shard renderer,
previews and benchmarks all produce the same image for the same ``(kind, params, seed, i)``.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import numpy as np
from PIL import Image

from generators.registry import Kind
from generators.seeding import class_of, class_rng, sample_rng

MODES = ("L", "RGB")

#: zlib level of the PNGs. Level 1 encodes 2-3x faster than Pillow's default 6 on these
#: images for ~5-15 % larger files; PNG is lossless, so pixels are the same at any level.
DEFAULT_PNG_LEVEL = 1


def to_jsonable(value: Any) -> Any:
    """Class parameters and info dicts -> plain JSON types (dataclasses, numpy values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def convert_mode(image: np.ndarray, mode: str) -> np.ndarray:
    """Grayscale <-> RGB. RGB -> L is the ITU-R 601-2 luma of Pillow (L = .299R + .587G + .114B)."""
    if image.dtype != np.uint8:
        raise TypeError(f"a render function returned dtype {image.dtype}, expected uint8")
    if mode == "L":
        if image.ndim == 2:
            return image
        return np.asarray(Image.fromarray(image, "RGB").convert("L"))
    if mode == "RGB":
        if image.ndim == 3:
            return image
        return np.repeat(image[:, :, None], 3, axis=2)
    raise ValueError(f"mode {mode!r} must be one of {', '.join(MODES)}")


def sample_class_params(kind: Kind, params: Any, seed: int, class_index: int) -> Any:
    """The parameters of class ``class_index`` (the same on every worker and node)."""
    return kind.sample_class(params, class_rng(seed, class_index))


def batches(indices: list[int], batch_size: int) -> list[list[int]]:
    """``indices`` (a shard's render order) cut into consecutive groups of ``batch_size``.

    The only place batches are formed: a batch is a pure function of the shard's indices and
    ``batch_size``, so a sample's batch (and its bytes) never depends on workers, nodes or
    resumption."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    return [indices[k:k + batch_size] for k in range(0, len(indices), batch_size)]


def _finish(kind: Kind, result: Any, size: int, mode: str, meta: dict,
            class_params: Any) -> tuple[np.ndarray, dict]:
    image, info = result if isinstance(result, tuple) else (result, None)
    image = np.asarray(image)
    expected = (size, size) if image.ndim == 2 else (size, size, 3)
    if image.shape != expected:
        raise ValueError(f"{kind.name} rendered shape {image.shape}, expected {expected}")
    if info:
        meta.update(to_jsonable(info))
    if kind.has_classes:
        meta["class_params"] = to_jsonable(class_params)
    return convert_mode(image, mode), meta


def render_samples(kind: Kind, params: Any, seed: int, indices: list[int], size: int, mode: str,
                   classes: list | None = None, context: Any = None
                   ) -> list[tuple[np.ndarray, dict]]:
    """Render ``indices`` as one batch: ``[(image, meta), ...]`` in the order of ``indices``.

    Kinds with ``render_batch`` get one call for the whole list; the others render one sample
    at a time (the same bytes as :func:`render_sample`). ``classes`` may hold every class's
    parameters (workers cache them); otherwise they are derived here.
    """
    if kind.render_batch is None:
        return [render_sample(kind, params, seed, i, size, mode,
                              classes[class_of(i, params.num_classes)] if classes else None,
                              context) for i in indices]
    rngs = [sample_rng(seed, i) for i in indices]
    args: list[Any] = [params, rngs, size]
    metas: list[dict[str, Any]] = [{"index": i} for i in indices]
    class_list: list[Any] = [None] * len(indices)
    if kind.has_classes:
        labels = [class_of(i, params.num_classes) for i in indices]
        class_list = [classes[c] if classes else sample_class_params(kind, params, seed, c)
                      for c in labels]
        for meta, label in zip(metas, labels):
            meta["class"] = label
        args.append(class_list)
    kwargs = {"context": context} if kind.make_context is not None else {}
    results = kind.render_batch(*args, **kwargs)
    if len(results) != len(indices):
        raise ValueError(f"{kind.name} rendered {len(results)} samples for a batch of "
                         f"{len(indices)}")
    return [_finish(kind, result, size, mode, meta, class_params)
            for result, meta, class_params in zip(results, metas, class_list)]


def render_sample(kind: Kind, params: Any, seed: int, index: int, size: int, mode: str,
                  class_params: Any = None, context: Any = None) -> tuple[np.ndarray, dict]:
    """Render sample ``index``: returns the image in ``mode`` and its JSON metadata.

    ``class_params`` may be passed in (workers cache them); otherwise they are derived here.
    This is always a batch of one: a kind with ``render_batch`` renders the sample alone,
    which may differ in the last bits from the same sample rendered in a shard's batch (see
    :func:`render_samples`).
    """
    rng = sample_rng(seed, index)
    args: list[Any] = [params, rng, size]
    meta: dict[str, Any] = {"index": index}
    if kind.has_classes:
        label = class_of(index, params.num_classes)
        if class_params is None:
            class_params = sample_class_params(kind, params, seed, label)
        args.append(class_params)
        meta["class"] = label
    kwargs = {"context": context} if kind.make_context is not None else {}
    return _finish(kind, kind.render(*args, **kwargs), size, mode, meta, class_params)


def encode_png(image: np.ndarray, level: int = DEFAULT_PNG_LEVEL) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def encode_json(meta: dict) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
