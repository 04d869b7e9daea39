from django.urls import path

from consent.public import provenance_views

app_name = "provenance"

urlpatterns = [
    path("", provenance_views.check, name="check"),
    path("r/<str:receipt_id>", provenance_views.receipt, name="receipt"),
]
