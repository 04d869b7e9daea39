from django.urls import path

from consent.public import verify_views

app_name = "verify"

urlpatterns = [
    path("", verify_views.upload, name="upload"),
    path("<uuid:public_id>", verify_views.status, name="status"),
]
