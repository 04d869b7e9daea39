"""The one family of expected failures, shared by audit, identity and consent.

It sits below all three apps and imports none of them (tests/config/test_layout.py checks), because audit, the
lowest app, raises a member too (PurgeRefused) and dependencies point consent → identity → audit only. Each app
subclasses ApplicationError in its own `errors` module; the API maps the family in consent/api/errors.py, forms
and flash messages in errors.surfaces: one place per surface.
"""

from django.utils.translation import gettext_lazy as _

__all__ = ["ApplicationError"]


class ApplicationError(Exception):
    """An expected failure: nothing was changed, and the caller is told why.

    `code` is stable (clients branch on it), `message` is translated and may name %(params)s given as keyword
    arguments, `status` is the HTTP status the API answers, `fields` maps input names to messages, and
    `retry_after` (seconds) becomes the API's Retry-After header.
    """

    code = "application_error"
    status = 400
    message = _("The request could not be processed.")
    retry_after: int | None = None

    def __init__(self, message=None, *, fields: dict | None = None, retry_after: int | None = None, **params):
        if message is not None:
            self.message = message
        self.params = params
        self.fields = fields or {}
        if retry_after is not None:
            self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self):
        return str(self.message) % self.params if self.params else str(self.message)
