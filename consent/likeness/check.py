"""The check itself: decode, find speech, compare the face and the voice with the request's samples."""

import time

import numpy as np
from threadpoolctl import threadpool_limits

from consent.likeness import face, media, vad, voice

MIN_SPEECH_SECONDS = 1.0


def _face_distance(frames: list[np.ndarray], samples: list[bytes]) -> dict:
    sample_embeddings = []
    for content in samples:
        found = face.embeddings(media.image_rgb(content))
        if found:
            sample_embeddings.append(found[0])
    frame_distances = []
    for frame in frames:
        found = face.embeddings(frame)
        if found and sample_embeddings:
            frame_distances.append(min(float(np.linalg.norm(found[0] - s)) for s in sample_embeddings))
    return {
        "frames": len(frames),
        "frames_with_face": len(frame_distances),
        "samples_with_face": len(sample_embeddings),
        "distance": round(float(np.median(frame_distances)), 4) if frame_distances else None,
    }


def _voice_similarity(speech: np.ndarray, samples: list[bytes]) -> dict:
    if len(speech) < voice.SAMPLE_RATE * MIN_SPEECH_SECONDS:
        return {"similarity": None, "samples_with_speech": 0}
    recording = voice.embed(speech)
    similarities = []
    for content in samples:
        wav = media.audio_16k(content)
        sample_speech = vad.speech_only(wav, vad.speech_probabilities(wav))
        if len(sample_speech) >= voice.SAMPLE_RATE * MIN_SPEECH_SECONDS:
            similarities.append(float(recording @ voice.embed(sample_speech)))
    return {
        "similarity": round(max(similarities), 4) if similarities else None,
        "samples_with_speech": len(similarities),
    }


def run(**kwargs) -> dict:
    """See `_run`. One BLAS/OpenMP thread: many-threaded BLAS on small LSTM steps is ten times slower
    on a busy machine (measured: 8.4 s instead of 0.8 s for 5 s of speech), and workers run checks in parallel."""
    with threadpool_limits(limits=1):
        return _run(**kwargs)


def _run(
    *,
    recording: bytes,
    face_samples: list[bytes],
    voice_samples: list[bytes],
    face_max_distance: float,
    voice_min_similarity: float,
) -> dict:
    """Scores, thresholds, models and timings of one recording; `passed` only if every part passed.

    Raises media.MediaError if the recording cannot be decoded at all.
    """
    timings = {}
    started = time.perf_counter()
    wav = media.audio_16k(recording)
    frames = media.video_frames(recording) if face_samples else []
    timings["decode_ms"] = round((time.perf_counter() - started) * 1000)

    mark = time.perf_counter()
    probs = vad.speech_probabilities(wav)
    speech_seconds = vad.speech_seconds(probs)
    timings["speech_ms"] = round((time.perf_counter() - mark) * 1000)
    result = {
        "speech": {"seconds": round(speech_seconds, 2), "min_seconds": MIN_SPEECH_SECONDS, "model": vad.model_name()},
        "passed": True,
        "failures": [],
    }
    if speech_seconds < MIN_SPEECH_SECONDS:
        result["failures"].append("no_speech")

    if face_samples:
        mark = time.perf_counter()
        scores = _face_distance(frames, face_samples)
        timings["face_ms"] = round((time.perf_counter() - mark) * 1000)
        scores.update(max_distance=face_max_distance, model=face.model_name())
        if scores["frames_with_face"] == 0:
            result["failures"].append("no_face")
        elif scores["distance"] > face_max_distance:
            result["failures"].append("face_mismatch")
        result["face"] = scores

    if voice_samples:
        mark = time.perf_counter()
        scores = _voice_similarity(vad.speech_only(wav, probs), voice_samples)
        timings["voice_ms"] = round((time.perf_counter() - mark) * 1000)
        scores.update(min_similarity=voice_min_similarity, model=voice.model_name())
        if scores["similarity"] is None:
            if "no_speech" not in result["failures"]:
                result["failures"].append("no_speech")
        elif scores["similarity"] < voice_min_similarity:
            result["failures"].append("voice_mismatch")
        result["voice"] = scores

    timings["total_ms"] = round((time.perf_counter() - started) * 1000)
    result["timings"] = timings
    result["passed"] = not result["failures"]
    return result
