"""Faces and voices for the likeness tests, made here from things that ship in packages.

Faces: scikit-image's `astronaut` (Eileen Collins) and matplotlib's `grace_hopper`. Voices: espeak-ng with
two different voices. Recordings are muxed with PyAV, as a phone or a browser would upload them.
"""

import io
import shutil
import subprocess
import wave
from fractions import Fraction
from functools import cache

import numpy as np
import pytest

STATEMENT = "I agree that this organisation may use my voice and my face. My number is four two seven one nine three."
SAMPLE_TEXT = "The quick brown fox jumps over the lazy dog while the rain falls softly on the roof."


def likeness_skip_reason() -> str:
    from consent.likeness import unavailable_reason

    reason = unavailable_reason()
    if reason:
        return f"the likeness extra is not installed (missing: {reason}); `make likeness` installs it"
    if not shutil.which("espeak-ng"):
        return "espeak-ng (Debian package) is not installed; `make test` installs it"
    try:
        import matplotlib  # noqa: F401
        import skimage  # noqa: F401
    except ImportError:
        return "scikit-image and matplotlib (dev extra) provide the test faces"
    return ""


requires_likeness = pytest.mark.skipif(bool(likeness_skip_reason()), reason=likeness_skip_reason() or "-")


@cache
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@cache
def grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.asarray(image.convert("RGB"))


def png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def speech(voice: str, text: str) -> bytes:
    """espeak-ng's WAV of `text` in `voice` (e.g. "en", "en+f3")."""
    return subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout


def wav_samples(content: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(content)) as reader:
        rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype=np.int16), rate


def recording(rgb: np.ndarray | None, voice_wav: bytes, *, fps: int = 5) -> bytes:
    """An MP4 (MPEG-4 video of the still face, AAC audio of the speech), or an M4A without a face."""
    import av

    pcm, rate = wav_samples(voice_wav)
    seconds = len(pcm) / rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = None
        if rgb is not None:
            video = container.add_stream("mpeg4", rate=fps)
            video.height, video.width = (rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2)
            video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        if video is not None:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: video.height, : video.width]), format="rgb24")
            for i in range(int(seconds * fps) + 1):
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
        chunk = 1024
        for start in range(0, len(pcm), chunk):
            piece = pcm[start : start + chunk]
            audio_frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout="mono")
            audio_frame.sample_rate = rate
            audio_frame.pts = start
            for packet in audio.encode(audio_frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return buffer.getvalue()
