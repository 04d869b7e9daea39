"""JSON parsing that refuses what would blow the stack later: too deep a nesting is a parse error, not a 500."""

import json

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Our bodies nest four levels (request → items → item → samples → sample); 32 leaves room and no more.
MAX_JSON_DEPTH = 32


def json_depth_check(value, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ParseError if `value` nests deeper than `limit`. Iterative, so it cannot overflow itself."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                raise ParseError(_("JSON nested deeper than %(n)s levels.") % {"n": limit})
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def json_loads_limited(text: str | bytes):
    """json.loads that answers ParseError for bad syntax and for nesting past MAX_JSON_DEPTH."""
    try:
        value = json.loads(text)
    except RecursionError as exc:  # the C decoder gives up around 1000 levels with RecursionError
        raise ParseError(_("JSON nested deeper than %(n)s levels.") % {"n": MAX_JSON_DEPTH}) from exc
    except ValueError as exc:
        raise ParseError(_("JSON parse error - %(detail)s") % {"detail": exc}) from exc
    json_depth_check(value)
    return value


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("JSON nested deeper than %(n)s levels.") % {"n": MAX_JSON_DEPTH}) from exc
        json_depth_check(value)
        return value
