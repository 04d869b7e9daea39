"""Output provenance over the API: register an output (services), check a file or hash (anyone)."""

import base64
import binascii

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import services
from consent.api.errors import error_response
from consent.api.views import ERROR, ERRORS
from consent.models import ApiKey
from consent.provenance.check import provenance_check_file, provenance_check_hash
from consent.provenance.labels import aigc_label, check_url

SHA256 = r"^[0-9a-fA-F]{64}$"
# Standard base64 with its padding, as base64.b64decode(validate=True) reads it: the schema says exactly this.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class OutputOutput(serializers.Serializer):
    receipt_id = serializers.UUIDField(source="public_id")
    receipt = serializers.CharField(help_text="compact JWS, `typ: provenance+jwt`, signed with a key of the JWKS")
    aigc_label = serializers.SerializerMethodField(help_text="GB 45438-2025 implicit label: write it under `AIGC`")
    check_url = serializers.SerializerMethodField()
    sha256 = serializers.CharField()
    media_type = serializers.CharField()
    perceptual_hash = serializers.CharField()
    consent_id = serializers.IntegerField()
    presentation_id = serializers.IntegerField()
    registered_at = serializers.DateTimeField(source="created_at")
    consent_withdrawn_at = serializers.DateTimeField(allow_null=True)

    def get_aigc_label(self, output) -> dict:
        return aigc_label(output)

    def get_check_url(self, output) -> str:
        return check_url(output.public_id)


class OutputRegisterApi(APIView):
    """Register a generated output under the verify call made before its job; answers a signed receipt.

    The presentation must be your organisation's, have answered `active`, be at most
    OUTPUT_PRESENTATION_MAX_AGE_MINUTES old, and its consent must still be active. Idempotent by `sha256`:
    the same file again answers 200 with the first registration and `Idempotent-Replayed: true`.
    """

    required_scopes = (ApiKey.Scope.OUTPUTS_WRITE,)

    class OutputRegisterInput(serializers.Serializer):
        presentation_id = serializers.IntegerField(
            min_value=1, help_text="`presentation_id` of the active answer of POST /tokens/verify"
        )
        sha256 = serializers.RegexField(SHA256, help_text="SHA-256 of the output file as generated, before labelling")
        media_type = serializers.RegexField(
            r"^(image|audio|video)/[A-Za-z0-9][A-Za-z0-9.+-]{0,80}$", help_text="e.g. image/png, audio/mpeg, video/mp4"
        )
        perceptual_hash = serializers.RegexField(
            r"^[0-9a-fA-F]{16}$",
            required=False,
            allow_blank=True,
            help_text="64-bit pHash (imagehash) of the image or of the video's first key frame, 16 hex digits",
        )
        thumbnail_base64 = serializers.RegexField(
            BASE64,
            error_messages={"invalid": gettext_lazy("Not valid base64.")},
            required=False,
            default="",
            allow_blank=True,
            max_length=(services.THUMBNAIL_MAX_BYTES * 4 // 3) + 4,
            help_text="optional PNG or JPEG thumbnail (≤ 64 KB); the person sees it only if they opt in",
        )

    @extend_schema(
        operation_id="output_register",
        request=OutputRegisterInput,
        responses={
            201: OutputOutput,
            200: OpenApiResponse(OutputOutput, description="already registered (same sha256): the first answer"),
            409: OpenApiResponse(
                ERROR,
                description="`presentation_not_active`, `presentation_too_old`, `consent_not_active` or "
                "`output_registered_under_another_consent`",
            ),
            **{
                **ERRORS,
                400: OpenApiResponse(ERROR, description="`invalid`, `media_type_not_consented` or `thumbnail_invalid`"),
                404: OpenApiResponse(ERROR, description="`presentation_not_found` (not your organisation's)"),
            },
        },
    )
    def post(self, request):
        data = self.OutputRegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            thumbnail = base64.b64decode(values["thumbnail_base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError({"thumbnail_base64": [_("Not valid base64.")]}) from exc
        output, replayed = services.output_register(
            actor=request.auth,
            presentation_id=values["presentation_id"],
            sha256=values["sha256"],
            media_type=values["media_type"],
            perceptual_hash=values.get("perceptual_hash", ""),
            thumbnail=thumbnail,
        )
        return Response(
            OutputOutput(output).data,
            status=200 if replayed else 201,
            headers={"Idempotent-Replayed": "true"} if replayed else None,
        )


PROVENANCE_REPORT = inline_serializer(
    "ProvenanceReport",
    {
        "sha256": serializers.CharField(),
        "media_type": serializers.CharField(help_text="as the file's container says (empty for a hash)"),
        "registered": serializers.BooleanField(help_text="the file or its label/receipt/C2PA leads to a registration"),
        "exact_file_registered": serializers.BooleanField(help_text="these very bytes were registered"),
        "outputs": serializers.ListField(
            child=inline_serializer(
                "ProvenanceOutput",
                {
                    "receipt_id": serializers.UUIDField(),
                    "matched_by": serializers.ListField(
                        child=serializers.ChoiceField(["sha256", "aigc_label", "receipt", "c2pa", "receipt_id"])
                    ),
                    "registered_at": serializers.DateTimeField(),
                    "organization": serializers.CharField(),
                    "media_type": serializers.CharField(),
                    "consent_state": serializers.ChoiceField(["active", "withdrawn", "expired"]),
                    "consent_withdrawn_at": serializers.DateTimeField(allow_null=True),
                    "receipt_valid": serializers.BooleanField(),
                    "perceptual_distance": serializers.IntegerField(allow_null=True),
                },
            )
        ),
        "similar": serializers.ListField(
            child=serializers.DictField(),
            help_text="registered outputs with a close perceptual hash: similar, never proof",
        ),
        "aigc_label": serializers.DictField(allow_null=True),
        "aigc_label_recognised": serializers.BooleanField(),
        "embedded_receipt_valid": serializers.BooleanField(allow_null=True),
        "c2pa": serializers.DictField(allow_null=True),
        "c2pa_readable": serializers.BooleanField(allow_null=True),
    },
)


class ProvenanceCheckApi(APIView):
    """Public: was this output registered, by which organisation, and is its consent still active?

    `GET ?sha256=` checks a hash; `POST` a file (multipart field `file`) also reads its embedded `AIGC`
    label, receipt and C2PA manifest and looks for perceptually similar registered outputs. No personal data.
    """

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="provenance_check_hash",
        auth=[],
        parameters=[
            OpenApiParameter(
                "sha256",
                str,
                OpenApiParameter.QUERY,
                required=True,
                pattern=SHA256,
                description="SHA-256 of the file, 64 hexadecimal digits",
            )
        ],
        responses={200: PROVENANCE_REPORT, 400: OpenApiResponse(ERROR, description="`invalid`")},
    )
    def get(self, request):
        sha256 = request.query_params.get("sha256", "").strip()
        if not _is_sha256(sha256):
            raise ValidationError({"sha256": [_("Send the SHA-256 of the file as 64 hexadecimal digits.")]})
        return Response(provenance_check_hash(sha256=sha256).as_public())

    @extend_schema(
        operation_id="provenance_check_file",
        auth=[],
        request={"multipart/form-data": inline_serializer("ProvenanceFile", {"file": serializers.FileField()})},
        responses={
            200: PROVENANCE_REPORT,
            400: OpenApiResponse(ERROR, description="`invalid` (no file)"),
            413: OpenApiResponse(ERROR, description="`file_too_large`"),
        },
    )
    def post(self, request):
        request._request.upload_max_bytes = settings.PROVENANCE_CHECK_MAX_BYTES
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": [_("Send the file to check as the multipart field 'file'.")]})
        if getattr(upload, "oversized", False) or upload.size > settings.PROVENANCE_CHECK_MAX_BYTES:
            return error_response(
                "file_too_large",
                _("The file is larger than %(limit)s bytes; check it by its SHA-256.")
                % {"limit": settings.PROVENANCE_CHECK_MAX_BYTES},
                413,
                {"file": [_("The file is too large.")]},
            )
        return Response(provenance_check_file(content=upload.read()).as_public())


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)
