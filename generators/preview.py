"""Contact sheets: a grid of images from a kind (rendered on the fly) or a shard directory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generators.registry import get_kind
from generators.sample import convert_mode, render_sample


def contact_sheet(images: list[np.ndarray], labels: list | None = None, columns: int | None = None,
                  gap: int = 2) -> Image.Image:
    """Tile images (all the same size; L or RGB) into one RGB sheet, labels in the corner."""
    if not images:
        raise ValueError("no images to put on a contact sheet")
    images = [convert_mode(image, "RGB") for image in images]
    height, width = images[0].shape[:2]
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    sheet = Image.new("RGB", (columns * (width + gap) + gap, rows * (height + gap) + gap),
                      (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for n, image in enumerate(images):
        x = gap + (n % columns) * (width + gap)
        y = gap + (n // columns) * (height + gap)
        sheet.paste(Image.fromarray(image), (x, y))
        if labels is not None and labels[n] is not None:
            draw.text((x + 2, y + 1), str(labels[n]), fill=(255, 64, 64))
    return sheet


def preview_kind(kind_name: str, params, count: int, size: int, seed: int, mode: str,
                 progress: bool = False) -> tuple[list[np.ndarray], list]:
    """The first ``count`` samples of a kind; for class kinds these are ``count`` classes.
    ``progress``: a progress bar on stderr (class kinds search one class per image)."""
    from tqdm import tqdm

    kind = get_kind(kind_name)
    context = kind.make_context(params) if kind.make_context else None
    images, labels = [], []
    for i in tqdm(range(count), desc=f"preview {kind_name}", unit="img", disable=not progress,
                  leave=False):
        image, meta = render_sample(kind, params, seed, i, size, mode, context=context)
        images.append(image)
        labels.append(meta.get("class"))
    return images, labels


def save_sheet(sheet: Image.Image, out: Path) -> None:
    """Write ``sheet`` to ``out`` atomically, in the format its extension names."""
    from generators.atomic import atomic_open

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out) as handle:
        sheet.save(handle, format=Image.registered_extensions()[out.suffix.lower()])
