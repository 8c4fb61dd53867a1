"""Small, valid media files for result URLs: PNG, JPEG and WebP images, MP4 videos, WAV and MP3 audio.

Every format is built by hand (no imaging library): a solid colour or silence is all a result needs,
and each of these formats has a short exact encoding of one.
"""

from __future__ import annotations

import io
import math
import re
import struct
import wave
import zlib
from functools import cache, lru_cache
from importlib import resources

CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
}
# What the APIs' format fields say, to the extension of the file served: ``jpg`` is spelled ``jpeg``
# (the extension of the result URLs the APIs' docs show); ElevenLabs-style ``mp3_44100_128`` and
# ``pcm_16000`` name an encoding and its rate.
FORMAT_EXTENSIONS: dict[str, str] = {
    "png": "png",
    "jpeg": "jpeg",
    "jpg": "jpeg",
    "webp": "webp",
    "mp4": "mp4",
    "wav": "wav",
    "pcm": "wav",
    "mp3": "mp3",
}
# The formats each kind of task comes in, its default first; a text answer has no files.
KIND_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": ("png", "jpeg", "webp"),
    "video": ("mp4",),
    "audio": ("wav", "mp3"),
    "text": ("",),
}


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


def format_extension(value: object) -> str | None:
    """The extension of the file a format field asks for (``"JPG"``, ``"mp3_44100_128"``), or ``None``
    when it names no format the fake makes."""
    if not isinstance(value, str):
        return None
    return FORMAT_EXTENSIONS.get(value.lower().partition("_")[0])


def result_extension(kind: str, requested: str | None) -> str:
    """The extension of a task's result files: the format it asked for if its kind comes in that
    format (a dual-kind model's kind is known only once the engine has looked it up), else its kind's."""
    made = KIND_EXTENSIONS[kind]
    return requested if requested is not None and requested in made else made[0]


# Baseline JPEG: one quantization table of ones, the standard luminance DC table (Annex K.3) and an
# AC table holding only end-of-block, so every 8x8 block is its DC difference and one bit.
_DC_COUNTS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_AC_COUNTS = (1,) + (0,) * 15


def _dc_codes() -> dict[int, str]:
    """Each DC category's canonical Huffman code, as JPEG derives it from the code-length counts."""
    codes: dict[int, str] = {}
    code, category = 0, 0
    for length, count in enumerate(_DC_COUNTS, start=1):
        for _ in range(count):
            codes[category] = format(code, f"0{length}b")
            code, category = code + 1, category + 1
        code <<= 1
    return codes


_DC_CODE = _dc_codes()


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


@lru_cache(maxsize=32)
def jpeg(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A solid-colour baseline JFIF JPEG (YCbCr, no subsampling) of exactly ``width`` x ``height``."""
    r, g, b = rgb
    ycbcr = (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )
    first = ""
    for component in ycbcr:
        dc = 8 * (min(255, max(0, round(component))) - 128)  # a flat block's DC with quantizer 1
        category = abs(dc).bit_length()
        amplitude = format(dc if dc >= 0 else dc + (1 << category) - 1, f"0{category}b") if category else ""
        first += _DC_CODE[category] + amplitude + "0"
    # Every later block repeats its predecessor: DC difference 0 (code 00), then end-of-block (0).
    blocks = -(-width // 8) * -(-height // 8)
    length = len(first) + 9 * (blocks - 1)
    padding = -length % 8
    scan = (int(first, 2) << (length - len(first) + padding)) | ((1 << padding) - 1)
    entropy = scan.to_bytes((length + padding) // 8, "big").replace(b"\xff", b"\xff\x00")
    components = b"".join(bytes((i, 0x11, 0)) for i in (1, 2, 3))
    tables = bytes((0x00, *_DC_COUNTS, *range(12))) + bytes((0x10, *_AC_COUNTS, 0x00))
    return (
        b"\xff\xd8"
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xDB, b"\x00" + b"\x01" * 64)
        + _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components)
        + _segment(0xC4, tables)
        + _segment(0xDA, b"\x03" + b"".join(bytes((i, 0x00)) for i in (1, 2, 3)) + b"\x00\x3f\x00")
        + entropy
        + b"\xff\xd9"
    )


@lru_cache(maxsize=32)
def webp(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A solid-colour lossless (VP8L) WebP of exactly ``width`` x ``height`` pixels: each of its five
    prefix codes has a single symbol, which takes no bits, so the pixels themselves are empty."""
    fields = [(width - 1, 14), (height - 1, 14), (0, 1), (0, 3), (0, 1), (0, 1), (0, 1)]
    r, g, b = rgb
    for symbol in (g, r, b, 255, 0):  # green, red, blue, alpha, distance
        fields += [(1, 1), (0, 1)]  # a simple code of one symbol
        fields += [(1, 1), (symbol, 8)] if symbol > 1 else [(0, 1), (symbol, 1)]
    value, position = 0, 0
    for field, bits in fields:
        value |= field << position
        position += bits
    data = b"\x2f" + value.to_bytes(-(-position // 8), "little")
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


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
def mp3(seconds: float = 1.0) -> bytes:
    """Silence as MPEG-1 Layer III frames (32 kHz, 32 kbit/s, mono, 144 bytes each): their side
    information is all zero, so each frame holds 1152 silent samples and no audio data."""
    frame = b"\xff\xfb\x18\xc0" + bytes(140)
    return frame * math.ceil(seconds * 32000 / 1152)


@cache
def mp4() -> bytes:
    """A one-second 64x64 H.264 MP4 (made once with ffmpeg and shipped with the package)."""
    return (resources.files("fakeapi") / "assets" / "blank.mp4").read_bytes()


def colour_for(task_id: str) -> tuple[int, int, int]:
    """A stable colour per task, so different results are different files."""
    value = zlib.crc32(task_id.encode())
    return (value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF)


IMAGES = {"png": png, "jpeg": jpeg, "webp": webp}


def file_for(task_id: str, ext: str, size: tuple[int, int] = (64, 64)) -> bytes:
    """The bytes served for one result of a task; images are ``size`` pixels."""
    image = IMAGES.get(ext)
    if image is not None:
        return image(*size, rgb=colour_for(task_id))
    if ext == "mp4":
        return mp4()
    if ext == "mp3":
        return mp3()
    return wav()
