"""Client for the likeness consent service: `ConsentClient` for the API, `Verifier` for offline checks,
`label_file` to write an output's provenance into it (needs the `labels` extra)."""

from likeness_consent_client.client import ApiError, ConsentClient
from likeness_consent_client.verifier import Verifier, VerifyResult


def __getattr__(name):
    # The labelling helpers need Pillow, mutagen, PyAV and imagehash (the `labels` extra): imported on use.
    if name in ("label_file", "perceptual_hash", "C2paCredentials", "UnsupportedFile"):
        from likeness_consent_client import labels

        return getattr(labels, name)
    raise AttributeError(name)


__all__ = [
    "ApiError",
    "C2paCredentials",
    "ConsentClient",
    "UnsupportedFile",
    "Verifier",
    "VerifyResult",
    "label_file",
    "perceptual_hash",
]
