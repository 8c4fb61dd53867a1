"""Small, valid media files for result URLs: PNG images, MP4 videos, WAV audio."""

from __future__ import annotations

import io
import re
import struct
import wave
import zlib
from functools import cache, lru_cache
from importlib import resources

CONTENT_TYPES: dict[str, str] = {"png": "image/png", "mp4": "video/mp4", "wav": "audio/wav"}


MAX_SIDE = 4096
BLOCK_BYTES = 64 * 1024
_SIZE = re.compile(r"^(\d{1,5})[xX*](\d{1,5})$")
_SQUARE = {"1K": 1024, "2K": 2048, "4K": 4096}


def image_size(value: object) -> tuple[int, int]:
    """The pixel size a request asks for (``"1536x1024"``, ``"2K"``); 64x64 when it names none."""
    if isinstance(value, str):
        if value.upper() in _SQUARE:
            side = _SQUARE[value.upper()]
            return side, side
        if (m := _SIZE.match(value)) and 0 < int(m[1]) <= MAX_SIDE and 0 < int(m[2]) <= MAX_SIDE:
            return int(m[1]), int(m[2])
    return 64, 64


@lru_cache(maxsize=32)
def png(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A solid-colour RGB PNG of exactly ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = _repeated(row, height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _repeated(row: bytes, times: int) -> bytes:
    """``row * times`` as a zlib stream, made in milliseconds whatever its size (a 4096x4096 image
    in 15 ms, where compressing all 48 MiB takes 0.2 s): a block of rows is compressed once and
    repeated. A full flush ends each block byte-aligned and with no reference to what came before,
    so the same block compresses to the same bytes every time; the checksum covers all rows."""
    per_block = max(1, BLOCK_BYTES // len(row))
    blocks, rest = divmod(times, per_block)
    block = row * per_block
    compressor = zlib.compressobj(6)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) if blocks else b""
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) if blocks > 1 else b""
    last = compressor.compress(row * rest) + compressor.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    return first + again * (blocks - 1) + last[:-4] + struct.pack(">I", checksum)


@cache
def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """Mono 16-bit PCM silence of the given length."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


@cache
def mp4() -> bytes:
    """A one-second 64x64 H.264 MP4 (made once with ffmpeg and shipped with the package)."""
    return (resources.files("fakeapi") / "assets" / "blank.mp4").read_bytes()


def colour_for(task_id: str) -> tuple[int, int, int]:
    """A stable colour per task, so different results are different files."""
    value = zlib.crc32(task_id.encode())
    return (value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF)


def file_for(task_id: str, ext: str, size: tuple[int, int] = (64, 64)) -> bytes:
    """The bytes served for one result of a task; images are ``size`` pixels."""
    if ext == "png":
        return png(*size, rgb=colour_for(task_id))
    if ext == "mp4":
        return mp4()
    return wav()
