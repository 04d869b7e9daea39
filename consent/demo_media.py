"""Tiny but real media files for demo data and tests: a PNG image and a WAV recording."""

import struct
import zlib


def demo_png(seed: int = 0) -> bytes:
    """A valid 1x1 PNG (different bytes per seed)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00" + bytes([seed % 256, 80, 160])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def demo_wav(seconds: float = 0.1) -> bytes:
    """A valid mono 8 kHz 16-bit WAV of silence."""
    frames = b"\x00\x00" * int(8000 * seconds)
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(frames))
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", len(frames))
        + frames
    )
