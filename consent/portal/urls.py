from django.urls import path

from consent.portal import views

app_name = "portal"

urlpatterns = [
    path("me/", views.home, name="home"),
]
