"""Decode recordings and samples with PyAV (FFmpeg): 16 kHz mono audio, a few RGB frames of video."""

import io

import av
import numpy as np
from PIL import Image

SAMPLE_RATE = 16_000
MAX_FRAMES = 3  # frames looked at for a face (spread over the recording): a blink or a turned head in one is outvoted
MAX_SIDE = 640  # frames are scaled down to this before the face detector (the figures in bench/ use it)


class MediaError(Exception):
    """The bytes are not a recording FFmpeg can decode (or hold nothing to look at)."""


def _open(content: bytes):
    try:
        return av.open(io.BytesIO(content), mode="r")
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(str(exc)) from exc


def duration_seconds(content: bytes) -> float:
    """The recording's duration from its streams (decoding the audio when the container does not say)."""
    with _open(content) as container:
        if container.duration:
            return container.duration / 1_000_000
    audio = audio_16k(content)
    return len(audio) / SAMPLE_RATE


def audio_16k(content: bytes) -> np.ndarray:
    """The first audio stream as float32 mono at 16 kHz (empty if there is none)."""
    chunks = []
    with _open(content) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            raise MediaError(str(exc)) from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def video_frames(content: bytes, *, limit: int = MAX_FRAMES) -> list[np.ndarray]:
    """Up to `limit` RGB frames spread over the video, each at most MAX_SIDE pixels on its longer side."""
    with _open(content) as container:
        if not container.streams.video:
            return []
        stream = container.streams.video[0]
        try:
            frames = [frame for frame in container.decode(stream)]
        except av.FFmpegError as exc:
            raise MediaError(str(exc)) from exc
    if not frames:
        return []
    step = max(1, len(frames) // limit)
    picked = frames[step // 2 :: step][:limit]
    return [_rgb(frame) for frame in picked]


def _rgb(frame) -> np.ndarray:
    scale = min(1.0, MAX_SIDE / max(frame.width, frame.height))
    width, height = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
    return frame.to_ndarray(format="rgb24", width=width, height=height)


def image_rgb(content: bytes) -> np.ndarray:
    """A still image (a face sample) as RGB, scaled like the video frames."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            return np.asarray(image)
    except Exception as exc:  # Pillow raises many types for unreadable images
        raise MediaError(str(exc)) from exc
