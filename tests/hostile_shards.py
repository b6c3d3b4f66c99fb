"""Hostile shard folders for fault-injection tests: one sample's member replaced, removed or
turned into a link, with the shard's sidecar rewritten to match (count, bytes, sha256), so only
a reader that checks every sample can notice."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(width: int, height: int, mode: str = "L") -> bytes:
    """A valid PNG of ``width x height`` (mid-grey)."""
    shape = (height, width) if mode == "L" else (height, width, 3)
    buffer = io.BytesIO()
    Image.fromarray(np.full(shape, 128, np.uint8), mode).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb(side: int = 60000) -> bytes:
    """A PNG whose header declares ``side x side`` grey pixels but which holds a few zero rows:
    a decoder that trusts the header allocates ``side**2`` bytes (3.6 GB at 60000)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (side + 1) * 4)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def _replace_png(data: bytes):
    def change(info: tarfile.TarInfo, _: bytes):
        return info, data
    return change


def png_corrupt_pixels(size: int) -> bytes:
    """A PNG of ``size x size`` with a valid header whose pixel data is damaged (a flipped
    byte in the IDAT chunk, as bit rot would leave it): only decoding it tells."""
    data = bytearray(png_bytes(size, size))
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0xFF
    return bytes(data)


def _drop(info: tarfile.TarInfo, data: bytes):
    return None


def _symlink(info: tarfile.TarInfo, data: bytes):
    link = tarfile.TarInfo(info.name)
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return link, None


#: case -> (how the ``png`` member of the victim sample changes, text the error must contain)
CASES = {
    "bomb": (lambda size: _replace_png(png_bomb()), "60000x60000"),
    "wrong-size": (lambda size: _replace_png(png_bytes(size // 2, size // 2)), "expected"),
    "wrong-mode": (lambda size: _replace_png(png_bytes(size, size, "RGB")), "RGB"),
    "not-png": (lambda size: _replace_png(b"GIF89a not a png at all"), "not a PNG image"),
    "corrupt-pixels": (lambda size: _replace_png(png_corrupt_pixels(size)), "does not decode"),
    "no-png": (lambda size: _drop, "no .png member"),
    "symlink": (lambda size: _symlink, "not a regular file"),
}


def forge_sample(tar_path: Path, position: int, case: str) -> str:
    """Apply ``CASES[case]`` to the ``png`` member of the ``position``-th sample of the shard
    and rewrite its sidecar to match; returns the sample's key."""
    info_json = json.loads((tar_path.parent / "dataset.json").read_text())
    change = CASES[case][0](info_json["size"])
    with tarfile.open(tar_path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    keys = list(dict.fromkeys(m.name.split(".")[0] for m, _ in members))
    victim = f"{keys[position]}.png"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as out:
        for member, data in members:
            if member.name == victim:
                changed = change(member, data)
                if changed is None:
                    continue
                member, data = changed
                if data is not None:
                    member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    blob = buffer.getvalue()
    tar_path.write_bytes(blob)
    sidecar = tar_path.with_suffix(".json")
    values = json.loads(sidecar.read_text())
    values.update(bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest())
    sidecar.write_text(json.dumps(values))
    return keys[position]
