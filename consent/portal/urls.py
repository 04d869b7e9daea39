from django.urls import path

from consent.portal import decide, views

app_name = "portal"

urlpatterns = [
    path("me/", views.home, name="home"),
    path("r/<str:code>/", decide.request_detail, name="request"),
    path("r/<str:code>/signin/", decide.landing_signin, name="landing-signin"),
    path("r/<str:code>/done/", decide.done, name="done"),
    path("r/<str:code>/items/<int:item_id>/code/", decide.item_code, name="item-code"),
    path("r/<str:code>/items/<int:item_id>/grant/", decide.item_grant, name="item-grant"),
    path("r/<str:code>/items/<int:item_id>/deny/", decide.item_deny, name="item-deny"),
    path("r/<str:code>/items/<int:item_id>/samples/<int:sample_id>/", decide.sample, name="sample"),
    path("me/export/", views.export, name="export"),
    path("me/delete/", views.delete_account, name="delete"),
    path("me/consents/<int:consent_id>/", views.consent_detail, name="consent"),
    path("me/consents/<int:consent_id>/revoke/", views.consent_revoke, name="consent-revoke"),
    path("me/consents/<int:consent_id>/outputs/display/", views.output_display, name="output-display"),
    path(
        "me/consents/<int:consent_id>/outputs/<uuid:receipt_id>/thumbnail.jpg",
        views.output_thumbnail,
        name="output-thumbnail",
    ),
    path("me/organizations/<int:organization_id>/block/", views.organization_block, name="block"),
    path("me/organizations/<int:organization_id>/unblock/", views.organization_unblock, name="unblock"),
]
