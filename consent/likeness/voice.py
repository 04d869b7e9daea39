"""Speaker embedding: resemblyzer's encoder (a 3-layer LSTM over 40-band mel frames) run in numpy.

Why numpy and not ONNX: exporting to ONNX needs PyTorch, which is not installable here; the network is
small (3 × 256 LSTM units, one linear layer), so a direct numpy forward pass is short, has no extra
dependency and runs in ~0.1 s per 5 s clip. The weights are read from the wheel's own `pretrained.pt`
(see torchfile.py). The front end follows resemblyzer's `audio.py` and `voice_encoder.py`: 16 kHz,
volume raised to -30 dBFS, 25 ms Hann windows every 10 ms, Slaney mel filters (librosa's defaults),
partial utterances of 160 frames at 1.3 per second, their L2-normalised mean. One difference: silences
are cut with silero's speech segments (we have them already) instead of webrtcvad.
"""

from functools import cache
from importlib.metadata import distribution, version
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from consent.likeness import torchfile

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
RATE = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30
LAYERS = 3


def model_name() -> str:
    return f"resemblyzer {version('resemblyzer')} voice encoder (numpy LSTM)"


def weights_path() -> Path:
    return Path(distribution("resemblyzer").locate_file("resemblyzer/pretrained.pt"))


@cache
def weights() -> dict[str, np.ndarray]:
    return torchfile.load(weights_path())["model_state"]


def _hz_to_mel(hz):
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _mel_to_hz(mel):
    mel = np.asanyarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@cache
def mel_filters() -> np.ndarray:
    """(40, 201) triangular filters with Slaney area normalisation, as librosa.filters.mel builds them."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram: centred frames, zero padding, periodic Hann window."""
    padded = np.pad(wav.astype(np.float32), N_FFT // 2, mode="constant")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
    return (power @ mel_filters().T).astype(np.float32)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function, without exp overflow


def forward(mels: np.ndarray) -> np.ndarray:
    """The encoder on a batch (batch, frames, 40): PyTorch's LSTM equations, gates in i, f, g, o order."""
    w = weights()
    x = mels.astype(np.float32)
    batch, steps, _ = x.shape
    for layer in range(LAYERS):
        w_ih, w_hh = w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"]
        bias = w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]
        hidden = w_hh.shape[1]
        inputs = x @ w_ih.T + bias  # all time steps at once; only the recurrent part is sequential
        h = np.zeros((batch, hidden), np.float32)
        c = np.zeros((batch, hidden), np.float32)
        outputs = np.empty((batch, steps, hidden), np.float32)
        for t in range(steps):
            gates = inputs[:, t] + h @ w_hh.T
            i, f, g, o = np.split(gates, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            outputs[:, t] = h
        x = outputs
    raw = np.maximum(h @ w["linear.weight"].T + w["linear.bias"], 0)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def _partial_slices(n_samples: int) -> list[slice]:
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    frame_step = int(np.round((SAMPLE_RATE / RATE) / HOP))
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, frame_step)]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices = slices[:-1]
    return slices


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean((wav * 32767) ** 2))
    if rms == 0:
        return wav
    change = TARGET_DBFS - 20 * np.log10(rms / 32767)
    return wav if change < 0 else wav * (10 ** (change / 20))


def embed(wav: np.ndarray) -> np.ndarray:
    """A 256-dimensional, L2-normalised speaker embedding of 16 kHz mono speech (silences already cut)."""
    with threadpool_limits(limits=1):  # see check.run: small matrices, a busy machine
        return _embed(wav)


def _embed(wav: np.ndarray) -> np.ndarray:
    wav = normalize_volume(wav.astype(np.float32))
    slices = _partial_slices(len(wav))
    needed = slices[-1].stop * HOP
    if needed >= len(wav):
        wav = np.pad(wav, (0, needed - len(wav)))
    mel = mel_spectrogram(wav)
    partials = forward(np.stack([mel[s] for s in slices]))
    mean = partials.mean(axis=0)
    return mean / np.linalg.norm(mean)
