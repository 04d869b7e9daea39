from django.urls import path

from consent.office import integration_views, lists, member_views, statement_views, views

app_name = "consent_office"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("requests/", views.request_list, name="requests"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/resend/", views.request_resend, name="request-resend"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("samples/<int:pk>/", views.sample_preview, name="sample"),
    path("statements/<int:pk>/", statement_views.statement_detail, name="statement"),
    path("statements/<int:pk>/review/", statement_views.statement_review, name="statement-review"),
    path("statements/<int:pk>/recording/", statement_views.statement_recording, name="statement-recording"),
    path("consents/", views.consent_list, name="consents"),
    path("consents/<int:pk>/", views.consent_detail, name="consent"),
    path("audit/", views.audit_list, name="audit"),
    path("presentations/", lists.presentation_list, name="presentations"),
    path("keys/", integration_views.key_list, name="keys"),
    path("keys/new/", integration_views.key_create, name="key-create"),
    path("keys/<int:pk>/revoke/", integration_views.key_revoke, name="key-revoke"),
    path("keys/<int:pk>/rotate/", integration_views.key_rotate, name="key-rotate"),
    path("webhooks/", integration_views.webhook_settings, name="webhooks"),
    path("webhooks/delete/", integration_views.webhook_delete, name="webhook-delete"),
    path("webhooks/events/<int:pk>/resend/", integration_views.webhook_event_resend, name="webhook-event-resend"),
    path("members/", member_views.member_list, name="members"),
    path("members/invite/", member_views.member_invite, name="member-invite"),
    path("members/<int:pk>/role/", member_views.member_role, name="member-role"),
    path("members/<int:pk>/remove/", member_views.member_remove, name="member-remove"),
    path("members/invitations/<int:pk>/revoke/", member_views.invitation_revoke, name="invitation-revoke"),
    path("organization/", member_views.organization_profile, name="organization"),
    path("account/", member_views.account, name="account"),
    path("account/password/", member_views.account_password, name="account-password"),
    path("account/backup-codes/", member_views.account_backup_codes, name="account-backup-codes"),
    path("account/authenticator/", member_views.account_totp, name="account-totp"),
]
