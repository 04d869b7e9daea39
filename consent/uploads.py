"""Uploads stream to disk and stop being stored once a file passes the sample limit.

Django hands each chunk of a multipart body to the upload handlers in order. This one comes first
(FILE_UPLOAD_HANDLERS): it counts a file's bytes and, past the limit, stops passing chunks on, so the
memory or temporary-file handler after it holds at most the limit. The rest of that file is read off
the wire and dropped (the request body itself is capped by REQUEST_BODY_MAX_BYTES). The form or view
then sees an `OversizedUpload` whose `size` is the real size and refuses it by name, reading nothing.
"""

import io
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class OversizedUpload(UploadedFile):
    """Stands in for a file that was too big to keep: its name and size, and no content."""

    oversized = True

    def __init__(self, name: str, size: int, content_type: str | None):
        super().__init__(io.BytesIO(), name=name, content_type=content_type, size=size)


class UploadSizeLimitHandler(FileUploadHandler):
    def _limit(self) -> int:
        # A view may allow more for its own upload (the /verify/ page takes PDFs up to 10 MB).
        return getattr(self.request, "upload_max_bytes", None) or settings.SAMPLE_MAX_BYTES

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.oversized = False

    def receive_data_chunk(self, raw_data, start):
        if self.oversized or start + len(raw_data) > self._limit():
            self.oversized = True
            return None  # the handlers after this one get nothing more of this file
        return raw_data

    def file_complete(self, file_size):
        if self.oversized:
            return OversizedUpload(self.file_name, file_size, self.content_type)
        return None  # the next handler (memory or temporary file) returns the stored file


class UploadStopAtLimit(FileUploadHandler):
    """For the public check pages: stop storing an upload once it passes `limit` bytes; the rest of the body
    is read and thrown away, and the view sees `exceeded` and says the file is too big."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler stores the file


# ---- samples kept across a failed submit of the office's request form ----------------------------
#
# Browsers never re-send a chosen file, so a form shown again with errors would lose its samples. They are
# stored under a random folder and named by a signed token in a hidden field: the token binds the folder
# to the operator who uploaded them, so a token copied into another account's form loads nothing, and
# nobody can name a path of their own (the signature covers it). Kept files go on success, and the daily
# purge removes what an abandoned form left after KEPT_MAX_AGE.

KEPT_PREFIX = "tmp-uploads"
KEPT_SALT = "consent.kept-uploads"
KEPT_MAX_AGE = timedelta(hours=24)


def kept_store(files, *, user_id: int) -> str:
    """Store already checked uploads for one more submit; the signed token that names them."""
    folder = secrets.token_urlsafe(16)
    entries = []
    for position, upload in enumerate(files):
        upload.seek(0)
        path = default_storage.save(f"{KEPT_PREFIX}/{folder}/{position}", upload)
        entries.append([path, upload.name, upload.content_type or ""])
    return signing.dumps({"user": user_id, "folder": folder, "files": entries}, salt=KEPT_SALT)


def _kept_entries(token: str, *, user_id: int) -> tuple[str, list] | None:
    try:
        data = signing.loads(token, salt=KEPT_SALT, max_age=KEPT_MAX_AGE)
    except signing.BadSignature:  # also an expired token (SignatureExpired)
        return None
    if data.get("user") != user_id:
        return None
    return data["folder"], data["files"]


def kept_load(token: str, *, user_id: int) -> list[UploadedFile]:
    """The files a token names, as uploads again; none if the token is not this operator's or has expired."""
    found = _kept_entries(token, user_id=user_id) if token else None
    if not found:
        return []
    files = []
    for path, name, content_type in found[1]:
        try:
            with default_storage.open(path) as stored:
                content = stored.read()
        except FileNotFoundError:  # purged in between: the operator attaches the file again
            return []
        files.append(SimpleUploadedFile(name, content, content_type=content_type or None))
    return files


def kept_discard(token: str, *, user_id: int) -> None:
    found = _kept_entries(token, user_id=user_id) if token else None
    for path, _name, _type in found[1] if found else []:
        default_storage.delete(path)


def kept_purge(*, now) -> int:
    """Delete kept uploads older than KEPT_MAX_AGE (forms abandoned after an error); the number of files."""
    try:
        folders, _files = default_storage.listdir(KEPT_PREFIX)
    except FileNotFoundError:
        return 0
    deleted = 0
    for folder in folders:
        _subfolders, names = default_storage.listdir(f"{KEPT_PREFIX}/{folder}")
        for name in names:
            path = f"{KEPT_PREFIX}/{folder}/{name}"
            if default_storage.get_modified_time(path) < now - KEPT_MAX_AGE:
                default_storage.delete(path)
                deleted += 1
    return deleted
