from django.urls import path

from audit import views

app_name = "log"

urlpatterns = [
    path("checkpoint", views.checkpoint, name="checkpoint"),
    path("key", views.key, name="key"),
    path("proof/inclusion", views.proof_inclusion, name="proof-inclusion"),
    path("proof/consistency", views.proof_consistency, name="proof-consistency"),
]
