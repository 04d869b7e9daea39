from django.urls import include, path, re_path

from config import views
from identity.admin_site import admin_site
from identity.dev_views import outbox

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("privacy/", views.privacy, name="privacy"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin_site.urls),
    path("office/", include("identity.office_urls")),
    path("office/", include("consent.office.urls")),
    path("", include("identity.portal_urls")),
    path("", include("consent.portal.urls")),
    path("api/v1/", include("consent.api.urls")),
    path("", include("consent.public.token_urls")),
    path("", include("consent.public.artifact_urls")),
    path("verify/", include("consent.public.verify_urls")),
    path("provenance/", include("consent.public.provenance_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dev/outbox/", outbox, name="dev-outbox"),  # 404 unless DEBUG
    # Unknown API paths answer the API's JSON 404 even with DEBUG on (handler404 applies only without it).
    re_path(r"^api/", views.api_not_found),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
