"""API keys: `Authorization: Bearer <prefix>.<secret>`, scoped, rate limited per key."""

import hmac
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from consent.api.ratelimit import rate_limit_hit
from consent.models import ApiKey
from consent.services import api_key_hash, api_key_touch
from identity.net import client_ip


class ServiceClient:
    """The authenticated caller: an API key of one organisation (never a Django user)."""

    is_authenticated = True

    def __init__(self, key: ApiKey):
        self.key = key
        self.organization = key.organization

    def __str__(self):
        return str(self.key)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the API key as 'Authorization: Bearer <key>'."))
        prefix, _dot, secret = header[1].decode("latin-1").partition(".")
        try:
            key = ApiKey.objects.select_related("organization__consent_settings").get(prefix=prefix)
        except ApiKey.DoesNotExist:
            key = None
        if key is None or not secret or not hmac.compare_digest(key.secret_hash, api_key_hash(secret)):
            raise exceptions.AuthenticationFailed(_("Unknown API key."))
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API key was revoked. Create a new one in the back-office."))
        if key.last_used_at is None or key.last_used_at < timezone.now() - timedelta(minutes=1):
            api_key_touch(key=key)
        return ServiceClient(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasScope(BasePermission):
    """The view's `required_scopes`: the key needs at least one of them.

    A view that names no scope is refused to every key: forgetting `required_scopes` must close an
    endpoint, not open it to any key of any scope. Public views opt out with `permission_classes = []`.
    """

    message = _("This API key lacks the scope this operation needs.")

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = getattr(view, "required_scopes", ())
        if not needed:
            self.message = _("This operation is not available to API keys.")
            return False
        allowed = any(scope in key.scopes for scope in needed)
        if not allowed:
            self.message = _("This API key lacks the scope %(scopes)s.") % {"scopes": " or ".join(needed)}
        return allowed


class ApiKeyRateThrottle(SimpleRateThrottle):
    """The per-key limit (API_RATE_LIMIT), counted in one cache round trip (consent.api.ratelimit)."""

    scope = "api_key"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self._wait = self.hit(self.get_cache_key(request, view))
        return self._wait is None

    def key_for(self, prefix: str) -> str:
        return self.cache_format % {"scope": self.scope, "ident": prefix}

    def hit(self, cache_key: str) -> int | None:
        """Count one call; None when allowed, else the seconds to wait."""
        return rate_limit_hit(cache_key, limit=self.num_requests, period=self.duration)

    def wait(self):
        return self._wait

    def get_cache_key(self, request, view):
        key = request.auth
        return self.key_for(key.prefix if isinstance(key, ApiKey) else self.get_ident(request))

    def get_ident(self, request):
        return client_ip(request) or "unknown"
