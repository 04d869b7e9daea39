from django.urls import path

from consent.public import artifact_views

app_name = "artifacts"

urlpatterns = [
    path("me/consents/<int:consent_id>/artifacts/<str:kind>.pdf", artifact_views.person_artifact, name="person"),
    path(
        "office/consents/<int:consent_id>/artifacts/<str:kind>.pdf",
        artifact_views.operator_artifact,
        name="operator",
    ),
]
