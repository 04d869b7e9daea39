"""OpenAPI additions: the API key scheme, and closed request bodies where the API refuses unknown fields."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

# Components of the input serializers built on views.ClosedSerializer (COMPONENT_SPLIT_REQUEST names).
CLOSED_COMPONENTS = ("RequestCreateInputRequest", "RequestItemInputRequest", "RequestSampleInputRequest")


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "consent.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "API key `prefix.secret` from the back-office"}


def closed_request_bodies(result, generator, request, public):
    """Postprocessing hook: the bodies the API refuses unknown fields in say so (additionalProperties: false)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_COMPONENTS:
        schemas[name]["additionalProperties"] = False
    return result
