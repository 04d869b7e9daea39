from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import consent.api.schema  # noqa: F401  (registers the OpenAPI description of API keys)
from consent.api import outputs, views

urlpatterns = [
    path("requests", views.RequestCreateApi.as_view(), name="api-request-create"),
    path("requests/<int:request_id>", views.RequestDetailApi.as_view(), name="api-request-detail"),
    path("requests/<int:request_id>/cancel", views.RequestCancelApi.as_view(), name="api-request-cancel"),
    path("consents/<int:consent_id>", views.ConsentDetailApi.as_view(), name="api-consent-detail"),
    path("tokens/verify", views.TokenVerifyApi.as_view(), name="api-token-verify"),
    path("outputs", outputs.OutputRegisterApi.as_view(), name="api-output-register"),
    path("provenance", outputs.ProvenanceCheckApi.as_view(), name="api-provenance-check"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
]
