"""Every API endpoint requires its scope. The endpoints are read from the URLconf, so a new endpoint
without an entry here fails, and so does an endpoint whose view forgets `required_scopes` (HasScope lets
a view without any through)."""

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from consent import services
from consent.api import urls as api_urls
from consent.builders import build_granted_consent
from consent.models import ApiKey
from tests.consent.conftest import api_request_body

pytestmark = pytest.mark.django_db

WRITE, READ, VERIFY = ApiKey.Scope.REQUESTS_WRITE, ApiKey.Scope.CONSENTS_READ, ApiKey.Scope.TOKENS_VERIFY
OUTPUTS = ApiKey.Scope.OUTPUTS_WRITE

# url name -> (method, path template, scopes of which the key needs one, status when it has one)
ENDPOINTS = {
    "api-request-create": ("post", "/api/v1/requests", {WRITE}, 201),
    "api-request-detail": ("get", "/api/v1/requests/{request}", {WRITE, READ}, 200),
    "api-request-cancel": ("post", "/api/v1/requests/{request}/cancel", {WRITE}, 200),
    "api-consent-detail": ("get", "/api/v1/consents/{consent}", {READ}, 200),
    "api-token-verify": ("post", "/api/v1/tokens/verify", {VERIFY}, 200),
    "api-output-register": ("post", "/api/v1/outputs", {OUTPUTS}, 201),
}
# The OpenAPI description and its viewer are public on purpose: they hold no data. The provenance check
# is public by design (anyone may check a file) and shows no personal data (tests/consent/test_provenance.py).
PUBLIC = {"api-schema", "api-docs", "api-provenance-check"}


@pytest.fixture
def objects(pat_verified, pending_request):
    """A request with one item granted (its consent and token) and one still pending, so cancel works."""
    consent = build_granted_consent(person=pat_verified, request=pending_request)
    verifier, _value = services.api_key_create(
        actor="test", organization=pending_request.organization, name="v", scopes=["tokens:verify"]
    )
    presentation = services.presentation_record(
        consent=consent,
        api_key=verifier,
        modality="face",
        operation="face_swap",
        media_sha256="",
        result="active",
        reason="",
        client_ip=None,
    )
    return {"request": pending_request, "consent": consent, "presentation": presentation}


def client_with(organization, scopes) -> APIClient:
    _key, value = services.api_key_create(actor="test", organization=organization, name="svc", scopes=sorted(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def call(client, name, objects):
    method, template, _scopes, _ok = ENDPOINTS[name]
    path = template.format(request=objects["request"].pk, consent=objects["consent"].pk)
    return getattr(client, method)(
        path, BODIES.get(name, lambda o: None)(objects), format="json", **HEADERS.get(name, {})
    )


BODIES = {
    "api-request-create": lambda o: api_request_body(phone="+8613700002222"),
    "api-token-verify": lambda o: {"token": o["consent"].token.value, "modality": "face", "operation": "face_swap"},
    "api-output-register": lambda o: {
        "presentation_id": o["presentation"].pk,
        "sha256": "c" * 64,
        "media_type": "image/png",
    },
}
HEADERS = {"api-request-create": {"HTTP_IDEMPOTENCY_KEY": "scope-test"}}


def api_patterns() -> dict[str, URLPattern]:
    return {pattern.name: pattern for pattern in api_urls.urlpatterns}


def test_every_api_endpoint_is_listed_here_with_its_scopes():
    patterns = api_patterns()
    assert set(patterns) == set(ENDPOINTS) | PUBLIC, "a new API endpoint needs a row in ENDPOINTS (or PUBLIC)"
    for name, (method, _path, scopes, _ok) in ENDPOINTS.items():
        view = patterns[name].callback.view_class
        assert set(view.required_scopes) == scopes, name
        handlers = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
        assert handlers == [method], f"{name}: every handler of the view needs a row here"


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_a_key_without_the_endpoints_scope_gets_403_with_the_error_shape(name, organization, objects):
    lacking = set(ApiKey.Scope.values) - ENDPOINTS[name][2]
    assert lacking, "a key with every other scope must exist to test this endpoint"
    response = call(client_with(organization, lacking), name, objects)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "forbidden"
    assert set(body) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    ("name", "scope"), [(name, scope) for name, row in sorted(ENDPOINTS.items()) for scope in sorted(row[2])]
)
def test_a_key_with_only_the_endpoints_scope_is_served(name, scope, organization, objects):
    response = call(client_with(organization, {scope}), name, objects)
    assert response.status_code == ENDPOINTS[name][3], response.content


def test_a_view_that_names_no_scope_is_closed_to_every_key(organization):
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory, force_authenticate
    from rest_framework.views import APIView

    class ForgotItsScopeApi(APIView):
        def get(self, request):
            return Response({"secret": "anything"})

    key, _value = services.api_key_create(
        actor="test", organization=organization, name="svc", scopes=list(ApiKey.Scope.values)
    )
    request = APIRequestFactory().get("/api/v1/forgot")
    force_authenticate(request, user=None, token=key)
    response = ForgotItsScopeApi.as_view()(request)
    assert response.status_code == 403
    assert response.data["code"] == "forbidden"
