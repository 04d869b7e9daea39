"""Real media files for the provenance tests, made on the spot: Pillow for images, the standard library's
`wave` for WAV, PyAV (FFmpeg's encoders) for MP3 and MP4. Small, so each costs milliseconds."""

import io
import math
import wave
from pathlib import Path

import av
from PIL import Image, ImageDraw


def picture(size: int = 96, seed: int = 0) -> Image.Image:
    """A picture with structure (perceptual hashes of flat colours are all alike)."""
    image = Image.new("RGB", (size, size), (240, 230, 210))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        offset = (seed * 17 + n * 13) % (size // 2)
        draw.ellipse(
            (offset, n * size // 8, offset + size // 3, n * size // 8 + size // 3), fill=(40 * n % 255, 90, 160)
        )
    draw.rectangle((size // 2, size // 2 + seed % 20, size - 5, size - 5), fill=(20, 20 + seed * 30 % 200, 20))
    return image


def write_png(path: Path, seed: int = 0) -> Path:
    picture(seed=seed).save(path, "PNG")
    return path


def write_jpeg(path: Path, seed: int = 0) -> Path:
    picture(seed=seed).save(path, "JPEG", quality=90)
    return path


def _tone(rate: int, seconds: float, frequency: float = 440.0) -> bytes:
    samples = int(rate * seconds)
    return b"".join(
        int(12000 * math.sin(2 * math.pi * frequency * n / rate)).to_bytes(2, "little", signed=True)
        for n in range(samples)
    )


def write_wav(path: Path, seconds: float = 0.3) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(_tone(16000, seconds))
    return path


def write_mp3(path: Path, seconds: float = 0.3) -> Path:
    rate = 22050
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        pcm = _tone(rate, seconds)
        chunk = 1152 * 2
        for start in range(0, len(pcm), chunk):
            part = pcm[start : start + chunk]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(part) // 2)
            frame.planes[0].update(part + b"\0" * (frame.planes[0].buffer_size - len(part)))
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_mp4(path: Path, frames: int = 6, seed: int = 0) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.width = stream.height = 96
        stream.pix_fmt = "yuv420p"
        for n in range(frames):
            frame = av.VideoFrame.from_image(picture(seed=seed + (n // 3)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


WRITERS = {
    "png": (write_png, "image/png"),
    "jpg": (write_jpeg, "image/jpeg"),
    "wav": (write_wav, "audio/wav"),
    "mp3": (write_mp3, "audio/mpeg"),
    "mp4": (write_mp4, "video/mp4"),
}


def png_bytes(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    picture(seed=seed).save(buffer, "PNG")
    return buffer.getvalue()
