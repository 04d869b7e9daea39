"""Uploads stream to disk and stop being stored once a file passes the sample limit.

Django hands each chunk of a multipart body to the upload handlers in order. This one comes first
(FILE_UPLOAD_HANDLERS): it counts a file's bytes and, past the limit, stops passing chunks on, so the
memory or temporary-file handler after it holds at most the limit. The rest of that file is read off
the wire and dropped (the request body itself is capped by REQUEST_BODY_MAX_BYTES). The form or view
then sees an `OversizedUpload` whose `size` is the real size and refuses it by name, reading nothing.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


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
