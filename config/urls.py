from django.urls import include, path

from config import views
from identity.admin_site import admin_site
from identity.dev_views import outbox

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin_site.urls),
    path("office/", include("identity.office_urls")),
    path("", include("identity.portal_urls")),
    path("", include("consent.portal.urls")),
    path("api/v1/", include("consent.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dev/outbox/", outbox, name="dev-outbox"),  # 404 unless DEBUG
]

# TEMPORARY while the surfaces are being built in parallel; replaced by plain includes.
import importlib  # noqa: E402

for _prefix, _module in (
    ("office/", "consent.office.urls"),
    ("", "consent.token_urls"),
    ("", "consent.artifact_urls"),
    ("verify/", "consent.verify_urls"),
):
    try:
        importlib.import_module(_module)
    except ImportError:
        continue
    urlpatterns.append(path(_prefix, include(_module)))
