from django.urls import path

from identity import office_views, password_reset

app_name = "office"

urlpatterns = [
    path("login/", office_views.login_view, name="login"),
    path("otp/", office_views.otp_view, name="otp"),
    path("otp/enrol/", office_views.enrol_view, name="enrol"),
    path("logout/", office_views.logout_view, name="logout"),
    path("invitation/<str:token>/", office_views.invitation_view, name="invitation"),
    path("password-reset/", password_reset.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", password_reset.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
]
