"""The log's public surface: the newest signed checkpoint, the verifier key, inclusion and consistency proofs.

Anyone may read them; nothing here names a person (a proof is hashes only). Bad parameters answer a JSON
error with a stable `code`, as the API does.
"""

import base64

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from audit import keys
from audit.models import AuditCheckpoint, AuditLeaf, AuditNode, AuditTree
from audit.services import consistency_proof, inclusion_proof


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "fields": fields or {}}, status=status)


def _text(body: str, *, max_age: int = 0) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-cache"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _integers(request, names: tuple[str, ...]) -> tuple[dict[str, int], dict[str, str]]:
    values, errors = {}, {}
    for name in names:
        raw = request.GET.get(name, "")
        if not raw:
            errors[name] = _("This parameter is required.")
        elif not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            errors[name] = _("Give a whole number of at least 0.")
        else:
            values[name] = int(raw)
    return values, errors


def _tree_size() -> int:
    return AuditTree.objects.filter(id=1).values_list("size", flat=True).first() or 0


@require_safe
def checkpoint(request):
    """The newest signed checkpoint, or (`?size=`) the one stored for that tree size."""
    checkpoints = AuditCheckpoint.objects.order_by("-number")
    if "size" in request.GET:
        values, errors = _integers(request, ("size",))
        if errors:
            return _error(400, "invalid_parameters", _("The parameters are not valid."), errors)
        found = checkpoints.filter(size=values["size"]).first()
        if found is None:
            return _error(404, "checkpoint_not_found", _("No checkpoint of this tree size exists."))
        return _text(found.note, max_age=86400)
    found = checkpoints.first()
    if found is None:
        return _error(404, "log_empty", _("The log has no checkpoint yet."))
    return _text(found.note)


@require_safe
def key(request):
    """The C2SP verifier key that checks every checkpoint's signature."""
    return _text(keys.log_verifier_key() + "\n", max_age=3600)


def _b64(values) -> list[str]:
    return [base64.b64encode(bytes(value)).decode() for value in values]


@require_safe
def proof_inclusion(request):
    values, errors = _integers(request, ("index", "size"))
    if errors:
        return _error(400, "invalid_parameters", _("The parameters are not valid."), errors)
    index, size = values["index"], values["size"]
    if size > _tree_size():
        return _error(400, "size_beyond_tree", _("The tree is not that large yet."), {"size": _("Too large.")})
    if index >= size:
        message = _("The index must be smaller than the size.")
        return _error(400, "index_beyond_size", message, {"index": _("Too large.")})
    leaf = AuditNode.objects.get(key=index).hash
    seq = AuditLeaf.objects.filter(index=index).values_list("seq", flat=True).first()
    return JsonResponse(
        {
            "index": index,
            "size": size,
            "event_seq": seq,
            "leaf_hash": _b64([leaf])[0],
            "hashes": _b64(inclusion_proof(index, size)),
        }
    )


@require_safe
def proof_consistency(request):
    values, errors = _integers(request, ("first", "second"))
    if errors:
        return _error(400, "invalid_parameters", _("The parameters are not valid."), errors)
    first, second = values["first"], values["second"]
    if second > _tree_size():
        return _error(400, "size_beyond_tree", _("The tree is not that large yet."), {"second": _("Too large.")})
    if first > second:
        return _error(
            400, "first_beyond_second", _("The first size must not exceed the second."), {"first": _("Too large.")}
        )
    return JsonResponse({"first": first, "second": second, "hashes": _b64(consistency_proof(first, second))})
