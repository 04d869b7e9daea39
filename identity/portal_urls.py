from django.urls import path

from identity import portal_views

app_name = "signin"

urlpatterns = [
    path("signin/", portal_views.signin, name="phone"),
    path("signin/code/", portal_views.signin_code, name="code"),
    path("signout/", portal_views.signout, name="signout"),
    path("identity/", portal_views.identity, name="identity"),
    path("identity/guardian/", portal_views.guardian, name="guardian"),
]
