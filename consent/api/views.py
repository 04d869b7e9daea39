"""REST API for services: consent requests, consents, token verification. Thin: parse → scope → service → render."""

import base64
import binascii
import hashlib
import json
import re

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.canonical import canonical_json
from consent import selectors, services, tokens
from consent.api.errors import error_response
from consent.api.parsers import LimitedJSONParser, json_loads_limited
from consent.errors import SampleTooLarge
from consent.models import ApiKey, EndUserVerification, Modality, Operation, Presentation
from consent.services import ItemInput, RequestInput, SampleInput
from identity.net import client_ip

ERROR = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(help_text="stable machine-readable code"),
        "message": serializers.CharField(help_text="for humans"),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR, description="invalid input (`invalid`, `malformed_request`, ...)"),
    401: OpenApiResponse(ERROR, description="missing, unknown or revoked API key (`unauthenticated`)"),
    403: OpenApiResponse(ERROR, description="the key lacks the scope (`forbidden`)"),
    404: OpenApiResponse(ERROR, description="not found or not your organisation's (`not_found`)"),
    429: OpenApiResponse(ERROR, description="rate limited (`rate_limited`); see Retry-After"),
}
MULTIPART_NOTE = (
    "Samples travel base64-encoded in `items[n].samples` of the JSON body. For large samples the same "
    "request may instead be sent as `multipart/form-data`: a part `payload` holding the JSON body without "
    "samples, and file parts named `items[0].samples`, `items[1].samples`, ... (several files per name "
    "allowed). Both forms are the same request for the `Idempotency-Key`."
)
# Printable ASCII, no space at either end: what a header carries unchanged through every proxy.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")
FILE_FIELD = re.compile(r"^items\[(\d+)\]\.samples$")


def _refuse_oversized(samples: list[tuple[str, str, int]]) -> None:
    """Refuse (413) before reading or decoding any sample larger than SAMPLE_MAX_BYTES."""
    limit = settings.SAMPLE_MAX_BYTES
    fields = {
        field: [
            _("%(name)s: %(size)s bytes; at most %(limit)s bytes are accepted.")
            % {"name": name, "size": size, "limit": limit}
        ]
        for field, name, size in samples
        if size > limit
    }
    if fields:
        raise SampleTooLarge(limit=limit, fields=fields)


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer field that refuses strings ("7") and booleans, as the schema says `integer`."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false, not "yes", 1 or "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ClosedSerializer(serializers.Serializer):
    """Input that refuses fields it does not know (documented as `additionalProperties: false`).

    A misspelt optional field would otherwise be dropped without a word, and the request made without it.
    """

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class SampleOutput(serializers.Serializer):
    sha256 = serializers.CharField()
    kind = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class ItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    modality = serializers.CharField()
    operations = serializers.ListField(child=serializers.CharField())
    purpose = serializers.CharField()
    usage = serializers.CharField()
    valid_until = serializers.DateField()
    state = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    terms_sha256 = serializers.CharField()
    consent_id = serializers.SerializerMethodField()
    samples = SampleOutput(many=True)

    def get_consent_id(self, item) -> int | None:
        consent = getattr(item, "consent", None) if item.state == "granted" else None
        return consent.pk if consent else None


class RequestOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    phone = serializers.CharField(source="person_phone")
    language = serializers.CharField()
    end_user_reference = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    statement_required = serializers.BooleanField()
    items = ItemOutput(many=True)


class RequestSampleInput(ClosedSerializer):
    name = StrictCharField(max_length=200)
    content_base64 = StrictCharField(help_text="the sample's bytes, base64 (RFC 4648 §4)")


class RequestItemInput(ClosedSerializer):
    modality = serializers.ChoiceField(choices=Modality.choices)
    operations = serializers.ListField(
        child=serializers.ChoiceField(choices=Operation.choices),
        allow_empty=False,
        help_text="operations of the item's modality (face: face_*, attribute_editing, pose_manipulation; "
        "voice: voice_*, speech_synthesis)",
    )
    purpose = StrictCharField(max_length=500)
    usage = StrictCharField(max_length=500)
    valid_until = serializers.DateField(help_text="after today, within CONSENT_MAX_VALIDITY_DAYS")
    samples = serializers.ListField(
        child=RequestSampleInput(), required=False, default=list, help_text="PNG/JPEG/WebP images or WAV/MP3 audio"
    )


class RequestCreateApi(APIView):
    """Create a consent request; the person is notified by SMS. Requires an `Idempotency-Key` header."""

    required_scopes = (ApiKey.Scope.REQUESTS_WRITE,)

    class RequestCreateInput(ClosedSerializer):
        phone = StrictCharField(max_length=32, help_text="a mobile number (E.164, or national for China)")
        email = serializers.EmailField(required=False, allow_blank=True, help_text="to notify by e-mail as well")
        language = serializers.ChoiceField(choices=["zh-hans", "en"], default="zh-hans")
        expires_in_days = StrictIntegerField(default=7, min_value=1, max_value=30)
        end_user_reference = StrictCharField(max_length=100)
        end_user_verification_method = serializers.ChoiceField(choices=EndUserVerification.choices)
        end_user_verification_reference = StrictCharField(max_length=100)
        end_user_verified_at = serializers.DateTimeField()
        end_user_prompted_to_notify = StrictBooleanField(help_text="must be true (Provisions Art. 14)")
        retention_days = StrictIntegerField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Days the reference samples are kept after the consent ends (or the item is denied, "
            "cancelled or expires); then they are erased. 0 to SAMPLE_RETENTION_MAX_DAYS (180 by default); "
            "omitted: SAMPLE_RETENTION_DEFAULT_DAYS (30 by default).",
        )
        notice_retention = StrictCharField(
            max_length=300,
            required=False,
            default="",
            allow_blank=True,
            help_text="Optional further words on keeping (e.g. of the outputs); the person sees them under the days.",
        )
        notice_withdrawal = StrictCharField(max_length=300)
        notice_recipients = serializers.ListField(
            child=StrictCharField(max_length=200),
            required=False,
            default=list,
            max_length=20,
            help_text="named third parties who receive the likeness; an empty list (the default) means none",
        )
        statement_required = StrictBooleanField(
            required=False,
            default=False,
            help_text="The person records a consent statement that is checked against the samples before granting.",
        )
        items = serializers.ListField(child=RequestItemInput(), allow_empty=False, max_length=10)

    @extend_schema(
        operation_id="request_create",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": 200, "pattern": IDEMPOTENCY_KEY.pattern},
                OpenApiParameter.HEADER,
                required=True,
                description="A retry with the same key and body answers 201 with the request as it is now "
                "and `Idempotent-Replayed: true`; the same key with another body is a 422.",
            )
        ],
        # One body type only: client generators (openapi-python-client) cannot yet build a client for an
        # operation whose body comes in two media types, so the multipart form is described in words.
        description=MULTIPART_NOTE,
        request={"application/json": RequestCreateInput},
        responses={
            201: RequestOutput,
            422: OpenApiResponse(ERROR, description="the Idempotency-Key was used with another body"),
            409: OpenApiResponse(ERROR, description="`person_blocked_organization` or `cooling_down`"),
            413: OpenApiResponse(
                ERROR, description="`sample_too_large` (one sample) or `request_too_large` (the body)"
            ),
            **ERRORS,
        },
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not IDEMPOTENCY_KEY.fullmatch(key) or len(key) > 200:
            return error_response(
                "idempotency_key_required",
                _(
                    "Send an Idempotency-Key header (up to 200 printable ASCII characters) so that a retry "
                    "cannot create a second request."
                ),
                400,
                {"Idempotency-Key": [_("This header is required.")]},
            )
        raw, files = self._raw(request)
        data = self._parse(raw, files)
        fingerprint = hashlib.sha256(canonical_json(self._fingerprint(raw, data))).hexdigest()
        consent_request, replayed = services.request_create_idempotent(
            api_key=request.auth, idempotency_key=key, fingerprint=fingerprint, data=data
        )
        return Response(
            RequestOutput(selectors.request_items_attach(consent_request)).data,
            status=201,
            headers={"Idempotent-Replayed": "true"} if replayed else None,
        )

    def _raw(self, request) -> tuple[dict, dict]:
        if request.content_type.startswith("multipart/"):
            try:
                raw = json_loads_limited(request.data.get("payload", ""))
            except ParseError as exc:
                raise ValidationError({"payload": [_("Not valid JSON: %(detail)s") % {"detail": exc.detail}]}) from exc
            files = {}
            for name in request.FILES:
                match = FILE_FIELD.match(name)
                if not match:
                    raise ValidationError({name: [_("Unexpected file field; use items[<n>].samples.")]})
                files[int(match.group(1))] = request.FILES.getlist(name)
            return raw, files
        return request.data, {}

    def _parse(self, raw, files) -> RequestInput:
        if not isinstance(raw, dict):
            raise ValidationError({"non_field_errors": [_("The body must be a JSON object.")]})
        top = self.RequestCreateInput(data=raw)
        top.is_valid(raise_exception=True)
        values = dict(top.validated_data)
        items, errors = [], {}
        for index, item in enumerate(values.pop("items")):
            uploads = files.get(index, [])
            if len(uploads) + len(item["samples"]) > settings.SAMPLES_MAX_PER_ITEM:
                too_many = _("At most %(n)s samples per item.") % {"n": settings.SAMPLES_MAX_PER_ITEM}
                errors[f"items[{index}].samples"] = [too_many]
                continue
            _refuse_oversized([(f"items[{index}].samples[{j}]", f.name, f.size) for j, f in enumerate(uploads)])
            samples = [SampleInput(f.name, f.read()) for f in uploads]
            for j, sample in enumerate(item["samples"]):
                encoded = sample["content_base64"]
                _refuse_oversized([(f"items[{index}].samples[{j}]", sample["name"], len(encoded) * 3 // 4)])
                try:
                    content = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    errors[f"items[{index}].samples[{j}].content_base64"] = [_("Not valid base64.")]
                    continue
                samples.append(SampleInput(sample["name"], content))
            fields = {k: v for k, v in item.items() if k != "samples"}
            items.append(ItemInput(**fields, samples=samples))
        if errors:
            raise ValidationError(errors)
        return RequestInput(**values, items=items)

    @staticmethod
    def _fingerprint(raw: dict, data: RequestInput) -> dict:
        """The logical body: fields as sent, samples by their SHA-256 (JSON and multipart give the same)."""
        body = {k: v for k, v in raw.items() if k != "items"}
        body["items"] = [
            {
                **{k: v for k, v in raw_item.items() if k != "samples"},
                "samples": [hashlib.sha256(s.content).hexdigest() for s in item.samples],
            }
            for raw_item, item in zip(raw["items"], data.items, strict=True)
        ]
        return json.loads(json.dumps(body, default=str))


class RequestDetailApi(APIView):
    """Read a request of your organisation with the state of each item."""

    required_scopes = (ApiKey.Scope.REQUESTS_WRITE, ApiKey.Scope.CONSENTS_READ)

    @extend_schema(operation_id="request_read", responses={200: RequestOutput, **ERRORS})
    def get(self, request, request_id: int):
        consent_request = selectors.request_get_for_operator(
            organization=request.auth.organization, request_id=request_id
        )
        return Response(RequestOutput(consent_request).data)


class RequestCancelApi(APIView):
    """Cancel a pending request; items already decided keep their decision."""

    required_scopes = (ApiKey.Scope.REQUESTS_WRITE,)

    @extend_schema(
        operation_id="request_cancel",
        request=None,
        responses={200: RequestOutput, 409: OpenApiResponse(ERROR, description="`not_pending`"), **ERRORS},
    )
    def post(self, request, request_id: int):
        # The service's scoped look-up is the access check: another organisation's id is a 404 from there.
        consent_request = services.request_cancel(
            actor=request.auth, organization=request.auth.organization, request_id=request_id
        )
        return Response(RequestOutput(selectors.request_items_attach(consent_request)).data)


class ConsentDetailApi(APIView):
    """Read a consent of your organisation: its state and, while active, its token."""

    required_scopes = (ApiKey.Scope.CONSENTS_READ,)

    class ConsentOutput(serializers.Serializer):
        id = serializers.IntegerField()
        state = serializers.CharField()
        request_id = serializers.IntegerField(source="item.request_id")
        item_id = serializers.IntegerField(source="item.pk")
        modality = serializers.CharField()
        operations = serializers.ListField(child=serializers.CharField())
        terms_sha256 = serializers.CharField()
        granted_at = serializers.DateTimeField()
        valid_until = serializers.DateTimeField()
        revoked_at = serializers.DateTimeField(allow_null=True)
        expired_at = serializers.DateTimeField(allow_null=True)
        token = serializers.SerializerMethodField()

        def get_token(self, consent) -> str | None:
            token = getattr(consent, "token", None)
            return token.value if token and consent.state == "active" else None

    @extend_schema(operation_id="consent_read", responses={200: ConsentOutput, **ERRORS})
    def get(self, request, consent_id: int):
        consent = selectors.consent_get_for_operator(organization=request.auth.organization, consent_id=consent_id)
        response = Response(self.ConsentOutput(consent).data)
        add_never_cache_headers(response)  # carries a live bearer token: no proxy or client cache may keep it
        return response


INTROSPECTION = inline_serializer(
    "Introspection",
    {
        "active": serializers.BooleanField(help_text="whether the token allows this job now"),
        "presentation_id": serializers.IntegerField(
            required=False, help_text="when active: name it to register the job's output"
        ),
        "reason": serializers.ChoiceField(
            choices=tokens.VerifyReason.choices,
            required=False,
            help_text="only when inactive, and only for the token's own audience",
        ),
        # The claims of the token, only when active (RFC 7662 §2.2); README "Tokens" describes each.
        "iss": serializers.URLField(required=False, help_text="the issuing service"),
        "sub": serializers.CharField(
            required=False, help_text="pairwise pseudonym of the person for your organisation"
        ),
        "aud": serializers.CharField(required=False, help_text="your organisation's public identifier"),
        "jti": serializers.CharField(required=False, help_text="the token's unique id"),
        "cid": serializers.IntegerField(required=False, help_text="the consent id"),
        "mod": serializers.ChoiceField(choices=Modality.choices, required=False, help_text="the consented modality"),
        "ops": serializers.ListField(
            child=serializers.ChoiceField(choices=Operation.choices), required=False, help_text="consented operations"
        ),
        "iat": serializers.IntegerField(required=False, help_text="issued at (seconds since the epoch)"),
        "nbf": serializers.IntegerField(required=False, help_text="not before (seconds since the epoch)"),
        "exp": serializers.IntegerField(required=False, help_text="end of the consent (seconds since the epoch)"),
        "media": serializers.ListField(
            child=serializers.CharField(), required=False, help_text="SHA-256 (hex) of the consented reference samples"
        ),
        "status": inline_serializer(
            "TokenStatus",
            {
                "status_list": inline_serializer(
                    "TokenStatusListReference",
                    {"idx": serializers.IntegerField(), "uri": serializers.URLField()},
                )
            },
            required=False,
            help_text="Token Status List entry (draft-ietf-oauth-status-list) for offline revocation checks",
        ),
    },
)


class TokenVerifyApi(APIView):
    """Check a consent token before a generation job (RFC 7662 shape). Every presentation is logged.

    Accepts `application/json` and, as RFC 7662 introspection clients send it,
    `application/x-www-form-urlencoded` with the same fields.
    """

    required_scopes = (ApiKey.Scope.TOKENS_VERIFY,)
    parser_classes = [LimitedJSONParser, FormParser, MultiPartParser]

    class TokenVerifyInput(serializers.Serializer):
        token = StrictCharField(max_length=8192, help_text="the compact JWS")
        modality = serializers.ChoiceField(choices=Modality.choices)
        operation = serializers.ChoiceField(choices=Operation.choices)
        media_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True)

    @extend_schema(
        operation_id="token_verify",
        description="Also accepts `application/x-www-form-urlencoded` with the same fields (RFC 7662 §2.1).",
        request=TokenVerifyInput,
        responses={200: INTROSPECTION, **ERRORS},
    )
    def post(self, request):
        data = self.TokenVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key: ApiKey = request.auth
        media = values.get("media_sha256", "").lower()
        outcome = tokens.token_verify(
            token=values["token"],
            audience_org_id=key.organization_id,
            audience_public_id=tokens.audience_of(key.organization),
            modality=values["modality"],
            operation=values["operation"],
            media_sha256=media or None,
            require_media_binding=selectors.media_binding_required(organization=key.organization),
        )
        presentation = services.presentation_record(
            consent=outcome.consent,
            api_key=key,
            modality=values["modality"],
            operation=values["operation"],
            media_sha256=media,
            result=Presentation.Result.ACTIVE if outcome.active else Presentation.Result.INACTIVE,
            reason=outcome.reason,
            client_ip=client_ip(request),
        )
        if outcome.active:
            # presentation_id names this check when the job's output is registered (POST /outputs).
            return Response({"active": True, **outcome.claims, "presentation_id": presentation.pk})
        body = {"active": False}
        if outcome.audience_matches and outcome.reason:
            body["reason"] = outcome.reason
        return Response(body)
