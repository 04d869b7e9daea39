"""REST API for services: consent requests, consents, token verification. Thin: parse → scope → service → render."""

import base64
import binascii
import hashlib
import json
import re

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.canonical import canonical_json
from consent import selectors, services, tokens
from consent.api.errors import error_response
from consent.api.parsers import json_loads_limited
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
FILE_FIELD = re.compile(r"^items\[(\d+)\]\.samples$")


def _refuse_oversized(samples: list[tuple[str, str, int]]) -> None:
    """Refuse (413) before reading or decoding any sample larger than SAMPLE_MAX_BYTES."""
    limit = settings.SAMPLE_MAX_BYTES
    fields = {
        field: [f"{name}: {size} bytes; at most {limit} bytes are accepted."]
        for field, name, size in samples
        if size > limit
    }
    if fields:
        raise SampleTooLarge(limit=limit, fields=fields)


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
    items = ItemOutput(many=True)


class RequestCreateApi(APIView):
    """Create a consent request; the person is notified by SMS. Requires an `Idempotency-Key` header."""

    required_scopes = (ApiKey.Scope.REQUESTS_WRITE,)

    class RequestSampleInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        content_base64 = serializers.CharField()

    class RequestItemInput(serializers.Serializer):
        modality = serializers.ChoiceField(choices=Modality.choices)
        operations = serializers.ListField(child=serializers.ChoiceField(choices=Operation.choices), allow_empty=False)
        purpose = serializers.CharField(max_length=500)
        usage = serializers.CharField(max_length=500)
        valid_until = serializers.DateField()
        samples = serializers.ListField(child=serializers.DictField(), required=False, default=list)

    class RequestCreateInput(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        email = serializers.EmailField(required=False, default="", allow_blank=True)
        language = serializers.ChoiceField(choices=["zh-hans", "en"], default="zh-hans")
        expires_in_days = serializers.IntegerField(default=7, min_value=1, max_value=30)
        end_user_reference = serializers.CharField(max_length=100)
        end_user_verification_method = serializers.ChoiceField(choices=EndUserVerification.choices)
        end_user_verification_reference = serializers.CharField(max_length=100)
        end_user_verified_at = serializers.DateTimeField()
        end_user_prompted_to_notify = serializers.BooleanField()
        notice_retention = serializers.CharField(max_length=300)
        notice_withdrawal = serializers.CharField(max_length=300)
        notice_recipients = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            default=list,
            max_length=20,
            help_text="named third parties who receive the likeness; an empty list (the default) means none",
        )
        items = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=10)

    @extend_schema(
        operation_id="request_create",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="A retry with the same key and body answers 201 with the request as it is now "
                "and `Idempotent-Replayed: true`; the same key with another body is a 422.",
            )
        ],
        request={
            "application/json": RequestCreateInput,
            "multipart/form-data": inline_serializer(
                "RequestCreateMultipart",
                {
                    "payload": serializers.CharField(help_text="the JSON body, without samples"),
                    "items[0].samples": serializers.ListField(child=serializers.FileField()),
                },
            ),
        },
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
        if not key or len(key) > 200:
            return error_response(
                "idempotency_key_required",
                "Send an Idempotency-Key header (up to 200 characters) so that a retry cannot create a second request.",
                400,
                {"Idempotency-Key": ["This header is required."]},
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
                raise ValidationError({"payload": [f"Not valid JSON: {exc.detail}"]}) from exc
            files = {}
            for name in request.FILES:
                match = FILE_FIELD.match(name)
                if not match:
                    raise ValidationError({name: ["Unexpected file field; use items[<n>].samples."]})
                files[int(match.group(1))] = request.FILES.getlist(name)
            return raw, files
        return request.data, {}

    def _parse(self, raw, files) -> RequestInput:
        if not isinstance(raw, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        top = self.RequestCreateInput(data=raw)
        top.is_valid(raise_exception=True)
        values = dict(top.validated_data)
        items, errors = [], {}
        for index, item_raw in enumerate(values.pop("items")):
            item = self.RequestItemInput(data=item_raw)
            if not item.is_valid():
                errors[f"items[{index}]"] = item.errors
                continue
            uploads = files.get(index, [])
            if len(uploads) + len(item.validated_data["samples"]) > settings.SAMPLES_MAX_PER_ITEM:
                errors[f"items[{index}].samples"] = [f"At most {settings.SAMPLES_MAX_PER_ITEM} samples per item."]
                continue
            _refuse_oversized([(f"items[{index}].samples[{j}]", f.name, f.size) for j, f in enumerate(uploads)])
            samples = [SampleInput(f.name, f.read()) for f in uploads]
            for j, sample in enumerate(item.validated_data["samples"]):
                parsed = self.RequestSampleInput(data=sample)
                if not parsed.is_valid():
                    errors[f"items[{index}].samples[{j}]"] = parsed.errors
                    continue
                encoded = parsed.validated_data["content_base64"]
                _refuse_oversized(
                    [(f"items[{index}].samples[{j}]", parsed.validated_data["name"], len(encoded) * 3 // 4)]
                )
                try:
                    content = base64.b64decode(parsed.validated_data["content_base64"], validate=True)
                except (binascii.Error, ValueError):
                    errors[f"items[{index}].samples[{j}].content_base64"] = ["Not valid base64."]
                    continue
                samples.append(SampleInput(parsed.validated_data["name"], content))
            fields = {k: v for k, v in item.validated_data.items() if k != "samples"}
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


class TokenVerifyApi(APIView):
    """Check a consent token before a generation job (RFC 7662 shape). Every presentation is logged."""

    required_scopes = (ApiKey.Scope.TOKENS_VERIFY,)

    class TokenVerifyInput(serializers.Serializer):
        token = serializers.CharField(max_length=8192)
        modality = serializers.ChoiceField(choices=Modality.choices)
        operation = serializers.ChoiceField(choices=Operation.choices)
        media_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="token_verify",
        request=TokenVerifyInput,
        responses={
            200: inline_serializer(
                "Introspection",
                {
                    "active": serializers.BooleanField(),
                    "reason": serializers.CharField(required=False, help_text="only for the token's own audience"),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request):
        data = self.TokenVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key: ApiKey = request.auth
        media = values["media_sha256"].lower()
        outcome = tokens.token_verify(
            token=values["token"],
            audience_org_id=key.organization_id,
            modality=values["modality"],
            operation=values["operation"],
            media_sha256=media or None,
            require_media_binding=selectors.media_binding_required(organization=key.organization),
        )
        services.presentation_record(
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
            return Response({"active": True, **outcome.claims})
        body = {"active": False}
        if outcome.audience_matches and outcome.reason:
            body["reason"] = outcome.reason
        return Response(body)
