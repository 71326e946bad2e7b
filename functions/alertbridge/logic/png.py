"""Small PNG images written with the standard library only (zlib + struct), for the graph placeholder and
the local stand-in of CloudWatch's renderer.

A PNG is the 8-byte signature followed by chunks (length, type, data, CRC-32): IHDR (size, bit depth 8,
colour type 2 = RGB), optional tEXt (keyword, NUL, Latin-1 text), IDAT (the zlib-compressed scanlines, each
prefixed by filter type 0) and IEND (PNG specification, W3C, sections 5 and 11)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
GREY: Colour = (120, 120, 120)
LIGHT: Colour = (232, 232, 232)
BLUE: Colour = (31, 119, 180)
RED: Colour = (214, 39, 40)
BAND: Colour = (198, 219, 239)

# A 5x7 bitmap font: upper-case letters, digits and a little punctuation (other characters draw as '?').
_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * 7,
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    ">": (".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."),
    "<": ("...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
}
GLYPH_WIDTH, GLYPH_HEIGHT = 5, 7


class Canvas:
    """An RGB bitmap to draw on, then `png()`."""

    def __init__(self, width: int, height: int, background: Colour = WHITE) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(bytes(background) * width) for _ in range(height)]

    def dot(self, x: int, y: int, colour: Colour) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][3 * x : 3 * x + 3] = bytes(colour)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        for y in range(max(y0, 0), min(y1, self.height)):
            for x in range(max(x0, 0), min(x1, self.width)):
                self.dot(x, y, colour)

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for step in range(steps + 1):
            self.dot(round(x0 + (x1 - x0) * step / steps), round(y0 + (y1 - y0) * step / steps), colour)

    def text(self, x: int, y: int, text: str, colour: Colour, *, scale: int = 1) -> int:
        """Draw `text` (upper-cased) from its top-left corner; returns the x after the last glyph."""
        for char in text.upper():
            glyph = _GLYPHS.get(char, _GLYPHS["?"])
            for row, bits in enumerate(glyph):
                for column, bit in enumerate(bits):
                    if bit == "#":
                        self.rect(
                            x + column * scale, y + row * scale,
                            x + (column + 1) * scale, y + (row + 1) * scale, colour,
                        )  # fmt: skip
            x += (GLYPH_WIDTH + 1) * scale
        return x

    def png(self, text: Mapping[str, str] | None = None) -> bytes:
        return encode_png(self.width, self.height, self.rows, text=text)


def text_width(text: str, *, scale: int = 1) -> int:
    return len(text) * (GLYPH_WIDTH + 1) * scale


def encode_png(
    width: int, height: int, rows: Sequence[bytes | bytearray], *, text: Mapping[str, str] | None = None
) -> bytes:
    """An 8-bit RGB PNG from `height` rows of `3 * width` bytes, with optional tEXt chunks."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    scanlines = b"".join(b"\x00" + bytes(row) for row in rows)
    chunks = [_chunk(b"IHDR", header)]
    for keyword, value in (text or {}).items():
        data = keyword.encode("latin-1", "replace")[:79] + b"\x00" + value.encode("latin-1", "replace")
        chunks.append(_chunk(b"tEXt", data))
    chunks += [_chunk(b"IDAT", zlib.compress(scanlines, 9)), _chunk(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(chunks)


def png_text(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (keyword -> text); ValueError when `data` is not a well-formed PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG: bad signature")
    offset, found, texts = len(PNG_SIGNATURE), [], {}
    while offset < len(data):
        if offset + 8 > len(data):
            raise ValueError("truncated chunk header")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        found.append(kind)
        if kind == b"tEXt":
            keyword, _, value = body.partition(b"\x00")
            texts[keyword.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    if not found or found[0] != b"IHDR" or found[-1] != b"IEND" or b"IDAT" not in found:
        raise ValueError("not a PNG: IHDR, IDAT and IEND are required")
    return texts


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
