from django.urls import path

from identity import office_views

app_name = "office"

urlpatterns = [
    path("login/", office_views.login_view, name="login"),
    path("otp/", office_views.otp_view, name="otp"),
    path("otp/enrol/", office_views.enrol_view, name="enrol"),
    path("logout/", office_views.logout_view, name="logout"),
    path("invitation/<str:token>/", office_views.invitation_view, name="invitation"),
]
