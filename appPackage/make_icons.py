"""Draw the app's two Teams icons, deterministically, with the standard library only.

``color.png`` (192x192): a white headset on the accent colour, full bleed.
``outline.png`` (32x32): the same headset in white on a transparent background.

Run ``python appPackage/make_icons.py`` to rewrite both files next to this script; the
output is byte-for-byte the same on every run, so the committed PNGs can be checked
against it.
"""

from __future__ import annotations

import logging
import math
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COLOR_SIZE = 192
OUTLINE_SIZE = 32
# The manifest's accentColor (#0E7C7B): the colour icon's background.
ACCENT = (0x0E, 0x7C, 0x7B)
WHITE = (0xFF, 0xFF, 0xFF)

Shape = Callable[[float, float], bool]


def _rounded_rect(x0: float, y0: float, x1: float, y1: float, radius: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return False
        cx = min(max(x, x0 + radius), x1 - radius)
        cy = min(max(y, y0 + radius), y1 - radius)
        return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2

    return inside


def _arc(cx: float, cy: float, inner: float, outer: float, keep: Shape) -> Shape:
    def inside(x: float, y: float) -> bool:
        distance = math.hypot(x - cx, y - cy)
        return inner <= distance <= outer and keep(x, y)

    return inside


def headset(stroke: float) -> list[Shape]:
    """Return the headset's parts in a unit square (y grows downwards).

    ``stroke`` is the width of the headband and the microphone boom; the small icon
    needs a heavier stroke than the large one to stay legible at 32 pixels.
    """
    band_radius = 0.34
    boom_radius = 0.235
    return [
        # Headband: the upper half of a ring, down to the ear cups.
        _arc(0.5, 0.54, band_radius - stroke / 2, band_radius + stroke / 2, lambda x, y: y <= 0.54),
        # Ear cups.
        _rounded_rect(0.10, 0.47, 0.31, 0.77, 0.075),
        _rounded_rect(0.69, 0.47, 0.90, 0.77, 0.075),
        # Microphone boom: a quarter ring from the right cup round to the mouth.
        _arc(
            0.56,
            0.66,
            boom_radius - stroke * 0.4,
            boom_radius + stroke * 0.4,
            lambda x, y: x >= 0.56 and y >= 0.66,
        ),
        # Microphone.
        _rounded_rect(0.39, 0.855, 0.57, 0.94, 0.0425),
    ]


def coverage(shapes: Sequence[Shape], size: int, *, margin: float, samples: int) -> list[float]:
    """Return, row by row, the fraction of each pixel that the shapes cover.

    The shapes are drawn into the square ``[margin, size - margin]`` with ``samples`` x
    ``samples`` points per pixel, which smooths the edges.
    """
    span = size - 2 * margin
    offsets = [(i + 0.5) / samples for i in range(samples)]
    result: list[float] = []
    for row in range(size):
        for column in range(size):
            hits = 0
            for dy in offsets:
                y = (row + dy - margin) / span
                for dx in offsets:
                    x = (column + dx - margin) / span
                    if 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and any(s(x, y) for s in shapes):
                        hits += 1
            result.append(hits / (samples * samples))
    return result


def encode_png(width: int, height: int, rows: Sequence[bytes], *, color_type: int) -> bytes:
    """Encode 8-bit rows (RGB for colour type 2, RGBA for 6) as a PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _blend(background: tuple[int, int, int], amount: float) -> bytes:
    return bytes(round(b + (w - b) * amount) for b, w in zip(background, WHITE, strict=True))


def render_color() -> bytes:
    """Return color.png: white headset on the accent colour, 192x192, opaque RGB."""
    size = COLOR_SIZE
    cover = coverage(headset(stroke=0.075), size, margin=size * 0.17, samples=4)
    rows = [
        b"".join(_blend(ACCENT, cover[row * size + column]) for column in range(size))
        for row in range(size)
    ]
    return encode_png(size, size, rows, color_type=2)


def render_outline() -> bytes:
    """Return outline.png: white headset on transparency, 32x32 RGBA, white pixels only."""
    size = OUTLINE_SIZE
    cover = coverage(headset(stroke=0.1), size, margin=1.0, samples=8)
    rows = [
        b"".join(bytes((*WHITE, round(255 * cover[row * size + column]))) for column in range(size))
        for row in range(size)
    ]
    return encode_png(size, size, rows, color_type=6)


def main(argv: Sequence[str] | None = None) -> int:
    """Write color.png and outline.png into the directory given (default: this one)."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0]) if args else HERE
    target.mkdir(parents=True, exist_ok=True)
    for name, data in (("color.png", render_color()), ("outline.png", render_outline())):
        (target / name).write_bytes(data)
        _LOGGER.info("wrote %s (%d bytes)", target / name, len(data))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
