"""Is there speech? silero-vad's ONNX model (shipped in its wheel) on onnxruntime, 32 ms windows at 16 kHz."""

from functools import cache
from importlib.metadata import distribution, version
from pathlib import Path

import numpy as np
import onnxruntime

WINDOW = 512
CONTEXT = 64  # silero v5+ sees the last 64 samples of the previous window too
THRESHOLD = 0.5
PAD_WINDOWS = 3  # keep ~100 ms around speech when cutting silences


def model_name() -> str:
    return f"silero-vad {version('silero-vad')} (ONNX)"


def model_path() -> Path:
    return Path(distribution("silero-vad").locate_file("silero_vad/data/silero_vad.onnx"))


@cache
def _session():
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])


def speech_probabilities(wav: np.ndarray) -> np.ndarray:
    """One speech probability per 32 ms window of 16 kHz mono audio."""
    session = _session()
    n = len(wav) // WINDOW
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(16000, dtype=np.int64)
    probs = np.empty(n, np.float32)
    for i in range(n):
        chunk = wav[i * WINDOW : (i + 1) * WINDOW].astype(np.float32)[None, :]
        out, state = session.run(None, {"input": np.concatenate([context, chunk], axis=1), "state": state, "sr": sr})
        context = chunk[:, -CONTEXT:]
        probs[i] = out[0, 0]
    return probs


def speech_mask(probs: np.ndarray) -> np.ndarray:
    speech = probs >= THRESHOLD
    padded = speech.copy()
    for shift in range(1, PAD_WINDOWS + 1):
        padded[shift:] |= speech[:-shift]
        padded[:-shift] |= speech[shift:]
    return padded


def speech_only(wav: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The audio with long silences cut (the voice embedding should hear the speaker, not the room)."""
    mask = np.repeat(speech_mask(probs), WINDOW)
    return wav[: len(mask)][mask]


def speech_seconds(probs: np.ndarray) -> float:
    return float((probs >= THRESHOLD).sum() * WINDOW / 16000)
