"""Settings for the likeness consent service, read from the environment.

Development defaults exist only when DJANGO_DEBUG is on; in production every secret must be
set explicitly and start-up stops with ImproperlyConfigured naming the missing one.
"""

import importlib.util
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A development checkout keeps its settings in .env (`make` writes DJANGO_DEBUG=1 there); the real
# environment always wins, and production sets everything in the environment.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _secret(name: str, dev_default: str) -> str:
    """A secret from the environment; a fixed development value only when DEBUG is on."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set. Production (DJANGO_DEBUG=0) needs it in the environment; see .env.example."
    )


SECRET_KEY = _secret("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-not-for-production-use-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "audit",
    "identity",
    "consent",
]

MIDDLEWARE = [
    "config.middleware.DatabaseUnavailableMiddleware",
    # The verify hot path answers here, before the middleware below that an API call has no use for.
    "config.middleware.TokenVerifyShortcutMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Every API answer from the layers below, errors included: Cache-Control: no-store unless it set its own.
    "config.middleware.ApiNoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's LocaleMiddleware, except that the API follows Accept-Language only (English by default).
    # Before the body limit, so that its refusal speaks the same language; neither reads the body.
    "config.middleware.LanguageMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "identity.context_processors.home_urls",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'consent.sqlite3'}" if DEBUG else environ.Env.NOTSET
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections in production: a connection set-up per API call would cost more than the call,
# and the verify path's statements are prepared once per connection. No per-request health check (one
# more round trip on every call): a connection lost with the database is answered by one 503 and
# replaced on the next request (DatabaseUnavailableMiddleware).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0 if DEBUG else 60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer instead of failing at once when two requests write together.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# An operator's password reset link (identity.password_reset) works once, within this many seconds.
PASSWORD_RESET_TIMEOUT = 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "office:login"
# Where sign-in lands when no `next` was asked for. The surfaces tell identity their home pages here,
# so that identity never names a consent screen.
PORTAL_HOME_URL = "/me/"
# Shown in every page's footer: where people get help with the service itself (not with one request).
SERVICE_HELP_CONTACT = env.str("SERVICE_HELP_CONTACT", default="help@likeness-consent.example")
SERVICE_OPERATOR_NAME = env.str("SERVICE_OPERATOR_NAME", default="Likeness Consent Service (demo)")
OFFICE_HOME_URL = "/office/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Reference samples and signed records. Several web nodes must see the same files: either object
# storage (STORAGE_BACKEND=s3, any S3-compatible service, `pip install .[s3]`) or one shared filesystem
# mounted at MEDIA_ROOT on every node and worker.
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="") or (
    "s3" if env.str("AWS_STORAGE_BUCKET_NAME", default="") else "filesystem"
)


def _s3_storage() -> dict:
    bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    if not bucket:
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME is not set but STORAGE_BACKEND=s3 needs it.")
    if importlib.util.find_spec("storages") is None:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs django-storages: pip install 'likeness-consent[s3]'.")
    options = {
        "bucket_name": bucket,
        "location": env.str("AWS_LOCATION", default=""),
        # Samples are biometric data: objects stay private (no ACL, the bucket policy decides) and every
        # download goes through our views. Object stores have no atomic "create if absent", so we never
        # overwrite: a second upload under a taken name gets a new name instead of replacing the first.
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    # Unset values stay out, so boto3's own chain (instance role, AWS_* variables) still applies.
    for option, name in (
        ("endpoint_url", "AWS_S3_ENDPOINT_URL"),
        ("region_name", "AWS_S3_REGION_NAME"),
        ("access_key", "AWS_S3_ACCESS_KEY_ID"),
        ("secret_key", "AWS_S3_SECRET_ACCESS_KEY"),
        ("custom_domain", "AWS_S3_CUSTOM_DOMAIN"),
        ("addressing_style", "AWS_S3_ADDRESSING_STYLE"),
    ):
        value = env.str(name, default="")
        if value:
            options[option] = value
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


if STORAGE_BACKEND == "s3":
    _default_storage = _s3_storage()
elif STORAGE_BACKEND == "filesystem":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # under MEDIA_ROOT
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'filesystem' or 's3', not {STORAGE_BACKEND!r}.")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Sessions: the portal signs people out after 30 minutes without activity.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Security: everything on unless DEBUG (plain-HTTP development server).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # The recorded statement is previewed from a blob: URL before it is uploaded.
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Celery: with no broker configured, tasks run eagerly in the web process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="" if DEBUG else environ.Env.NOTSET)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# Web requests must not hang on a dead broker: try briefly, then rely on the periodic sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Fold new events into the Merkle tree and sign a checkpoint when it grew: at least every minute.
    "audit-integrate": {"task": "audit.tasks.audit_integrate_task", "schedule": timedelta(seconds=30)},
    "audit-purge-daily": {"task": "audit.tasks.audit_purge_task", "schedule": timedelta(hours=24)},
    "consent-expire": {"task": "consent.tasks.consent_expire_task", "schedule": timedelta(minutes=5)},
    "consent-expiry-remind": {"task": "consent.tasks.consent_expiry_remind_task", "schedule": timedelta(hours=1)},
    "consent-logs-purge-daily": {"task": "consent.tasks.consent_logs_purge_task", "schedule": timedelta(hours=24)},
    "consent-sweep": {"task": "consent.tasks.consent_sweep_task", "schedule": timedelta(minutes=1)},
    "samples-erase-hourly": {"task": "consent.tasks.samples_erase_task", "schedule": timedelta(hours=1)},
}

# Audit log (Provisions Art. 10; Cybersecurity Law Art. 21 requires at least six months).
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
AUDIT_MIN_RETENTION_DAYS = 180
if AUDIT_RETENTION_DAYS < AUDIT_MIN_RETENTION_DAYS:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS={AUDIT_RETENTION_DAYS} is below the legal minimum of "
        f"{AUDIT_MIN_RETENTION_DAYS} days (Cybersecurity Law Art. 21: keep network logs at least six months)."
    )
# The transparency log's origin line (and note key name): unique to this deployment, stable for its life.
AUDIT_LOG_ORIGIN = env.str("AUDIT_LOG_ORIGIN", default=f"{SITE_URL.split('://', 1)[-1]}/audit-log")

# Output provenance (README "Output provenance"): how old the verify call before a generation job may be
# when its output is registered, and how close two perceptual hashes (bits of 64) count as "similar".
OUTPUT_PRESENTATION_MAX_AGE_MINUTES = env.int("OUTPUT_PRESENTATION_MAX_AGE_MINUTES", default=30)
PROVENANCE_SIMILAR_MAX_DISTANCE = env.int("PROVENANCE_SIMILAR_MAX_DISTANCE", default=6)
if not 0 <= PROVENANCE_SIMILAR_MAX_DISTANCE <= 7:
    # The search finds candidates by quarters of the hash (consent.models.OutputHashBand): sound up to 7 bits.
    raise ImproperlyConfigured("PROVENANCE_SIMILAR_MAX_DISTANCE must be between 0 and 7 (bits of 64).")
PROVENANCE_CHECK_MAX_BYTES = env.int("PROVENANCE_CHECK_MAX_BYTES", default=20 * 1024 * 1024)
# Checks one client address may run per period on the public check pages (signed PDF, generated file).
PUBLIC_CHECK_RATE = env.str("PUBLIC_CHECK_RATE", default="30/min")

# Platform Ed25519 key (PEM) signing audit checkpoints. Generated under var/ in development.
PLATFORM_SIGNING_KEY = env.str("PLATFORM_SIGNING_KEY", default="", multiline=True)
if not PLATFORM_SIGNING_KEY and not DEBUG:
    raise ImproperlyConfigured("PLATFORM_SIGNING_KEY is not set (PEM Ed25519 private key); see .env.example.")

# Signed PDF records: the platform certificate (chain allowed) and its ECDSA P-256 key, PEM.
# Development generates a self-signed CA and signing certificate under VAR_DIR on first use.
ARTIFACT_SIGNING_CERT = env.str("ARTIFACT_SIGNING_CERT", default="", multiline=True)
ARTIFACT_SIGNING_KEY = env.str("ARTIFACT_SIGNING_KEY", default="", multiline=True)
ARTIFACT_TSA_URL = env.str("ARTIFACT_TSA_URL", default="")
if not DEBUG and not (ARTIFACT_SIGNING_CERT and ARTIFACT_SIGNING_KEY):
    raise ImproperlyConfigured("ARTIFACT_SIGNING_CERT and ARTIFACT_SIGNING_KEY are not set (PEM); see .env.example.")

# Personal data at rest (AES-GCM). The first key encrypts; the others still decrypt until rotated.
PII_ENCRYPTION_KEYS = env.list(
    "PII_ENCRYPTION_KEYS", default=["dev1:ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="] if DEBUG else []
)
PII_INDEX_KEY = _secret("PII_INDEX_KEY", "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LTMyLWJ5dGVz")
if not PII_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("PII_ENCRYPTION_KEYS is not set ('kid:base64 of 32 random bytes'); see .env.example.")

# People's sign-in by SMS code.
SMS_CODE_VALID_SECONDS = 300
SMS_SEND_COOLDOWN_SECONDS = env.int("SMS_SEND_COOLDOWN_SECONDS", default=60)
SMS_SEND_LIMIT_PER_PHONE_DAY = env.int("SMS_SEND_LIMIT_PER_PHONE_DAY", default=10)
SMS_SEND_LIMIT_PER_IP_HOUR = env.int("SMS_SEND_LIMIT_PER_IP_HOUR", default=30)
SMS_CODE_MAX_FAILURES = 5
# Real-name checks are paid per call and are an ID-number oracle if unlimited: caps per person (and its
# phone) and per client address per day; the provider is never called beyond them.
IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = env.int("IDENTITY_CHECK_LIMIT_PER_PERSON_DAY", default=5)
IDENTITY_CHECK_LIMIT_PER_IP_DAY = env.int("IDENTITY_CHECK_LIMIT_PER_IP_DAY", default=20)
# Operator sign-in: failures per (user name, client address) before a lock, which doubles each time.
OPERATOR_LOGIN_MAX_FAILURES = env.int("OPERATOR_LOGIN_MAX_FAILURES", default=5)
OPERATOR_LOGIN_LOCK_MINUTES = env.int("OPERATOR_LOGIN_LOCK_MINUTES", default=15)
REALNAME_BACKEND = env.str("REALNAME_BACKEND", default="identity.realname.ChecksumOnlyVerifier")
REALNAME_HTTP_URL = env.str("REALNAME_HTTP_URL", default="")
REALNAME_HTTP_APP_ID = env.str("REALNAME_HTTP_APP_ID", default="")
REALNAME_HTTP_SECRET = env.str("REALNAME_HTTP_SECRET", default="")
REALNAME_HTTP_METHOD = env.str("REALNAME_HTTP_METHOD", default="carrier_three_element")
# The real-name check runs inside the person's web request: one attempt, this many seconds, no retry.
REALNAME_HTTP_TIMEOUT = env.float("REALNAME_HTTP_TIMEOUT", default=3.0)
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_APP_ID = env.str("SMS_HTTP_APP_ID", default="")
SMS_HTTP_SECRET = env.str("SMS_HTTP_SECRET", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=5.0)
# SMS is sent by Celery tasks, which own the retries (one gateway attempt per try, exponential back-off).
SMS_CODE_DELIVER_MAX_RETRIES = env.int("SMS_CODE_DELIVER_MAX_RETRIES", default=5)
REQUEST_NOTIFY_MAX_RETRIES = env.int("REQUEST_NOTIFY_MAX_RETRIES", default=8)
if not DEBUG and REALNAME_BACKEND.endswith("ChecksumOnlyVerifier"):
    raise ImproperlyConfigured(
        "REALNAME_BACKEND is the development checksum-only verifier; production needs a real one "
        "(identity.realname.HttpRealNameVerifier with REALNAME_HTTP_URL, _APP_ID and _SECRET)."
    )

# Consent requests.
CONSENT_MAX_VALIDITY_DAYS = env.int("CONSENT_MAX_VALIDITY_DAYS", default=365)
CONSENT_DENIAL_COOLDOWN_DAYS = env.int("CONSENT_DENIAL_COOLDOWN_DAYS", default=30)
# The person is reminded this many days before a consent expires (once per consent; 0 = no reminder).
CONSENT_EXPIRY_REMINDER_DAYS = env.int("CONSENT_EXPIRY_REMINDER_DAYS", default=7)
if CONSENT_EXPIRY_REMINDER_DAYS < 0:
    raise ImproperlyConfigured(
        f"CONSENT_EXPIRY_REMINDER_DAYS={CONSENT_EXPIRY_REMINDER_DAYS} must be 0 (no reminder) or more days."
    )
# Reference samples are erased this many days after the consent ends (per request, 0 = at once), never later
# than the platform maximum; the retention task runs hourly through beat.
SAMPLE_RETENTION_DEFAULT_DAYS = env.int("SAMPLE_RETENTION_DEFAULT_DAYS", default=30)
SAMPLE_RETENTION_MAX_DAYS = env.int("SAMPLE_RETENTION_MAX_DAYS", default=180)
if not 0 <= SAMPLE_RETENTION_DEFAULT_DAYS <= SAMPLE_RETENTION_MAX_DAYS:
    raise ImproperlyConfigured(
        f"SAMPLE_RETENTION_DEFAULT_DAYS={SAMPLE_RETENTION_DEFAULT_DAYS} must lie between 0 and "
        f"SAMPLE_RETENTION_MAX_DAYS={SAMPLE_RETENTION_MAX_DAYS}."
    )
# Request notifications (each one an SMS): per phone per day from one organisation and from all of them,
# per organisation per hour.
NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY = env.int("NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY", default=3)
NOTIFY_LIMIT_PER_PHONE_DAY = env.int("NOTIFY_LIMIT_PER_PHONE_DAY", default=10)
NOTIFY_LIMIT_PER_ORGANIZATION_HOUR = env.int("NOTIFY_LIMIT_PER_ORGANIZATION_HOUR", default=500)
SAMPLE_MAX_BYTES = env.int("SAMPLE_MAX_BYTES", default=5 * 1024 * 1024)
# Recorded consent statements (README "Recorded consent statement"): limits of one recording, and the
# thresholds of the same-person check (tuned on the test voices and photos only: tune on real data).
STATEMENT_MAX_BYTES = env.int("STATEMENT_MAX_BYTES", default=25 * 1024 * 1024)
STATEMENT_MIN_SECONDS = env.float("STATEMENT_MIN_SECONDS", default=2.0)
STATEMENT_MAX_SECONDS = env.float("STATEMENT_MAX_SECONDS", default=60.0)
LIKENESS_FACE_MAX_DISTANCE = env.float("LIKENESS_FACE_MAX_DISTANCE", default=0.6)
LIKENESS_VOICE_MIN_SIMILARITY = env.float("LIKENESS_VOICE_MIN_SIMILARITY", default=0.80)
# Width × height an image sample may have, read from its header before any pixel is decoded.
SAMPLE_MAX_PIXELS = env.int("SAMPLE_MAX_PIXELS", default=40_000_000)
SAMPLES_MAX_PER_ITEM = env.int("SAMPLES_MAX_PER_ITEM", default=5)
REQUEST_MAX_ITEMS = env.int("REQUEST_MAX_ITEMS", default=10)
# One request carries about four full-size samples (base64 in JSON adds a third) plus the fields;
# the reverse proxy should refuse the same size (nginx client_max_body_size), see README.
REQUEST_BODY_MAX_BYTES = env.int(
    "REQUEST_BODY_MAX_BYTES", default=max(4 * SAMPLE_MAX_BYTES * 4 // 3, 10 * 1024 * 1024) + 1024 * 1024
)
DATA_UPLOAD_MAX_MEMORY_SIZE = SAMPLE_MAX_BYTES * 3
DATA_UPLOAD_MAX_NUMBER_FILES = REQUEST_MAX_ITEMS * SAMPLES_MAX_PER_ITEM
# Uploads go to temporary files past 1 MB; the first handler stops storing a file past SAMPLE_MAX_BYTES.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "consent.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Messages: SMS through an HTTP gateway in production, into the dev outbox in development.
SMS_BACKEND = env.str("SMS_BACKEND", default="identity.sms.OutboxSmsBackend")
EMAIL_BACKEND_PATH = env.str("EMAIL_BACKEND", default="identity.mail.OutboxEmailBackend")
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": {}}}
if EMAIL_BACKEND_PATH == "django.core.mail.backends.smtp.EmailBackend":
    MAILERS["default"]["OPTIONS"] = {
        "host": env.str("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=587),
        "username": env.str("EMAIL_HOST_USER", default=""),
        "password": env.str("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=True),
    }
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="consent@localhost")
if not DEBUG and (SMS_BACKEND.endswith("OutboxSmsBackend") or EMAIL_BACKEND_PATH.endswith("OutboxEmailBackend")):
    raise ImproperlyConfigured(
        "SMS_BACKEND and EMAIL_BACKEND must name real gateways in production; the dev outbox is for DEBUG only."
    )

if not DEBUG:
    for _backend, _prefix in ((REALNAME_BACKEND, "REALNAME_HTTP"), (SMS_BACKEND, "SMS_HTTP")):
        if _backend.split(".")[-1].startswith("Http"):
            for _name in ("URL", "APP_ID", "SECRET"):
                if not globals()[f"{_prefix}_{_name}"]:
                    raise ImproperlyConfigured(f"{_prefix}_{_name} is not set but {_backend} needs it.")

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
# Sign-in lockouts, refused-attempt counters and API throttles live in the cache: a per-process cache
# would give every web process (and every restart) its own fresh limits.
if not DEBUG and CACHES["default"]["BACKEND"].rsplit(".", 1)[-1] in ("LocMemCache", "DummyCache"):
    raise ImproperlyConfigured(
        "CACHE_URL is not set or names a per-process cache; production needs a shared one "
        "(rediscache://... or dbcache://...) because rate limits and lockouts live there."
    )
# How many proxies (load balancer, CDN) append to X-Forwarded-For in front of the app. 0: none, the
# client address is REMOTE_ADDR. Each trusted proxy appends the address it saw, so the client is the
# entry this many places from the right; anything further left was written by the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# `make bench` only: serve /bench/bare, a fixed JSON answer that the verify endpoint is measured against.
BENCH_BARE_VIEW = env.bool("BENCH_BARE_VIEW", default=False)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["consent.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["consent.api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["consent.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "consent.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "consent.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Likeness consent service API",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies documented as JSON only: client generators (openapi-python-client) fail on an operation
    # whose body comes in several media types. The other forms an operation accepts are in its description.
    "PARSER_WHITELIST": ["consent.api.parsers.LimitedJSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "consent.api.schema.closed_request_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {"ModalityEnum": "consent.models.Modality", "OperationEnum": "consent.models.Operation"},
}

OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Likeness consent")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}
