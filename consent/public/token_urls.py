"""Public token endpoints, included at "" in config/urls.py."""

from django.urls import path

from consent.public import token_views
from consent.records.receipt import RECEIPT_SCHEMA_PATH

urlpatterns = [
    path(".well-known/jwks.json", token_views.jwks_view),
    path("api/v1/status-lists/<int:number>", token_views.status_list_view),
    path(RECEIPT_SCHEMA_PATH.lstrip("/"), token_views.receipt_schema_view, name="receipt-schema"),
]
