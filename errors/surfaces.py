"""How the HTML surfaces (portal, office, sign-in) show an expected failure: on the form, or as a flash message.

Both keep what the person typed and answer with the page instead of a 500. The API's one mapping is
consent/api/errors.py.
"""

import re
from contextlib import contextmanager

from django.contrib import messages
from django.core.exceptions import ValidationError

from errors import ApplicationError

__all__ = ["errors_as_messages", "errors_on_form", "form_error_add"]

FIELD_NAME = re.compile(r"\w+")


def form_error_add(form, exc: ApplicationError | ValidationError, *, field: str | None = None, subforms=None) -> None:
    """Put `exc` on `form`: each of its field errors on the field it names, else its message on `field`.

    `subforms` maps a key prefix to the form that owns it ({"items[1].": item_form}), so that the service's
    "items[1].samples[0]" lands on the second item's samples. A name no form has becomes a form-wide error.
    """
    if isinstance(exc, ValidationError):  # raised by a shared validator inside a service
        form.add_error(field, exc.messages)
        return
    for key, field_messages in exc.fields.items():
        target, name = form, key
        for prefix, subform in (subforms or {}).items():
            if key.startswith(prefix):
                target, name = subform, key.removeprefix(prefix)
        match = FIELD_NAME.match(name)
        name = match[0] if match and match[0] in target.fields else None
        for message in field_messages:
            target.add_error(name, message)
    if not exc.fields:
        form.add_error(field, str(exc))


@contextmanager
def errors_on_form(form, *, field: str | None = None, subforms=None):
    """Run the block; an expected failure in it goes on `form` (see form_error_add) and the view renders on."""
    try:
        yield
    except (ApplicationError, ValidationError) as exc:
        form_error_add(form, exc, field=field, subforms=subforms)


@contextmanager
def errors_as_messages(request):
    """Run the block; an expected failure in it becomes an error message on the page the view redirects to."""
    try:
        yield
    except ApplicationError as exc:
        messages.error(request, str(exc))
