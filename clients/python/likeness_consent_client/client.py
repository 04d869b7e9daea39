"""Online API calls. Errors raise ApiError with the service's stable code and per-field messages."""

import base64
import uuid

import httpx


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


class ConsentClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0, transport=None):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"code": "invalid_response", "message": response.text[:200]}
        if response.status_code >= 400:
            raise ApiError(response.status_code, body.get("code", "error"), body.get("message", ""), body.get("fields"))
        return body

    def create_request(self, payload: dict, *, idempotency_key: str | None = None) -> dict:
        """Create a consent request. Pass the same idempotency_key when retrying the same request."""
        key = idempotency_key or str(uuid.uuid4())
        return self._call("POST", "requests", json=payload, headers={"Idempotency-Key": key})

    def get_request(self, request_id: int) -> dict:
        return self._call("GET", f"requests/{request_id}")

    def cancel_request(self, request_id: int) -> dict:
        return self._call("POST", f"requests/{request_id}/cancel")

    def get_consent(self, consent_id: int) -> dict:
        return self._call("GET", f"consents/{consent_id}")

    def verify_token(self, token: str, *, modality: str, operation: str, media_sha256: str | None = None) -> dict:
        """Online check (logged as a presentation): {"active": true, ...claims} or {"active": false}."""
        body = {"token": token, "modality": modality, "operation": operation}
        if media_sha256:
            body["media_sha256"] = media_sha256
        return self._call("POST", "tokens/verify", json=body)

    def register_output(
        self,
        *,
        presentation_id: int,
        sha256: str,
        media_type: str,
        perceptual_hash: str | None = None,
        thumbnail: bytes | None = None,
    ) -> dict:
        """Register a generated output under the verify call made before its job; idempotent by `sha256`.

        The answer holds the signed `receipt`, its `receipt_id`, the `aigc_label` and the `check_url`; pass it
        to `label_file(path, answer)` to write them into the file.
        """
        body = {"presentation_id": presentation_id, "sha256": sha256, "media_type": media_type}
        if perceptual_hash:
            body["perceptual_hash"] = perceptual_hash
        if thumbnail:
            body["thumbnail_base64"] = base64.b64encode(thumbnail).decode()
        return self._call("POST", "outputs", json=body)
