"""Settings, all driven by environment variables.

Defaults give the zero-setup embedded demo (SQLite, filesystem broker). Production sets
DATABASE_URL (PostgreSQL), SECRET_KEY, DEBUG=0, ALLOWED_HOSTS and CELERY_BROKER_URL (Redis).
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# The demo key only works with DEBUG on; production must provide its own.
SECRET_KEY = env_str("SECRET_KEY", "insecure-demo-key-change-me" if DEBUG else None)
# The Fernet key of sample-frame personal data (cases/social/crypto.py). Unset, one is derived from
# SECRET_KEY: fine for development and tests; production sets its own (docs/sample_frames.md).
SAMPLE_DATA_KEY = env_str("SAMPLE_DATA_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from the package: intranets have no CDN
    "config.apps.AxesConfig",  # django-axes (login lockout), under a Chinese name in the admin
    "django_filters",
    "viewflow",
    "viewflow.workflow",
    "cases",
    "notifications",
    "workflow",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login attempt (cases/accounts.py)
]

# Content-Security-Policy (django-csp): only this origin's files, no inline script or style anywhere
# (pages, admin, Swagger UI's split view), no framing, forms post only here. A page that needs an
# exception fixes the page instead.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): no page here needs a device or sensor.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: [] for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment", "usb",
    )
}

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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Only prepared statements follow this, and Django itself prepares none: the few hot reads of
    # cases/db.py (the inbox page, token authentication) are planned once per connection, not per request.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c plan_cache_mode=force_generic_plan"
# Parallel runs (several developers on one machine) may pick their own test database.
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_assessment")}

AUTH_USER_MODEL = "cases.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ui:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads live outside any web root and are only served through a permission-checked view.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "uploads")))
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
UPLOAD_ALLOWED_EXTENSIONS = env_list(
    "UPLOAD_ALLOWED_EXTENSIONS", "pdf,doc,docx,xls,xlsx,jpg,jpeg,png,txt,zip"
)
# The first handler refuses a multipart body whose Content-Length is too large before reading it, and
# stops one that passes UPLOAD_MAX_BYTES while it streams in (cases/uploads.py); nothing beyond the
# limit reaches memory or the temporary folder. The reverse proxy's client_max_body_size sits above.
FILE_UPLOAD_HANDLERS = [
    "cases.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Every spreadsheet import is read within these bounds (cases/workbooks.py).
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 10_000)  # per sheet
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 100)  # per sheet
IMPORT_MAX_CELLS = env_int("IMPORT_MAX_CELLS", 200_000)  # per workbook
IMPORT_MAX_SECONDS = env_int("IMPORT_MAX_SECONDS", 10)  # per workbook, well inside a worker's timeout
IMPORT_MAX_UNZIPPED_BYTES = env_int("IMPORT_MAX_UNZIPPED_BYTES", 50 * 1024 * 1024)
IMPORT_MAX_TEXT_BYTES = env_int("IMPORT_MAX_TEXT_BYTES", 2 * 1024 * 1024)  # a YAML/JSON rubric file
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "cases.api.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "cases.api.schema.AutoSchema",  # documents the error answers
    "EXCEPTION_HANDLER": "cases.api.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": "cases.api.metadata.EndpointMetadata",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Assessment rounds API",
    "DESCRIPTION": "Rounds, cases, tasks and scores of performance-assessment rounds (绩效考评).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "kind": named after their models.
    "ENUM_NAME_OVERRIDES": {
        "RoundKindEnum": "cases.models.RoundKind",
        "DocumentKindEnum": "notifications.documents.models.DocumentKind",
        "RectificationSourceEnum": "cases.rectification.models.RectificationSource",
        "RectificationStatusEnum": "cases.rectification.models.RectificationStatus",
    },
}

# Celery: Redis in production; the demo default needs no server (kombu's filesystem transport).
# Reads cached across requests (the rectification ledger): per process by default; with CACHE_URL
# (redis://…) one cache for every web process, so a change is counted again once, not once per worker.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, str | int] = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "control_folder": str(VAR_DIR / "broker-control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # Publishing happens inside web requests (after commit): fail fast when Redis is down instead of
    # blocking the request; the outbox rows are safe and the every-minute sweep sends them.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "max_retries": 1, "interval_start": 0}
CELERY_TASK_IGNORE_RESULT = True
# Rendering PDFs takes a fraction of a second to seconds of CPU each: on a queue of their own, so that
# a bulk issue never holds up the outbox's emails. Every worker command names the queues it serves
# (`-Q celery,documents` for one worker doing both; README "Production").
DOCUMENTS_QUEUE = "documents"
CELERY_TASK_ROUTES = {"notifications.tasks.render_document": {"queue": DOCUMENTS_QUEUE}}
# One message at a time per process (a long render must not sit on prefetched work another worker could
# do); a prefork child is replaced after this many tasks, returning what large documents leave behind.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 50)
CELERY_TIMEZONE = TIME_ZONE
# Beat sends the periodic tasks only while it holds a lease in Redis (config/beat.py): a second beat
# started by mistake waits instead of scheduling every sweep twice, and takes over if the first dies.
CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"
BEAT_LOCK_URL = env_str("BEAT_LOCK_URL", "")  # default: the broker or CACHE_URL when Redis; "off": no lock
BEAT_LOCK_KEY = env_str("BEAT_LOCK_KEY", "assessment:beat-lock")
BEAT_LOCK_SECONDS = env_int("BEAT_LOCK_SECONDS", 30)  # a dead beat's lease ends after this; renewed every third
# A worker outlives any broker outage (it reconnects, then the sweep sends what waited in the outbox)
# and may be started before the broker.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Email: SMTP in production (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST …).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@assessment.local")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# Seconds per SMTP socket operation. Must stay well inside NOTIFICATIONS_LEASE_SECONDS (checked).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# Links in emails and SMS point here (no trailing slash).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# SMS gateway adapter: a class with send(*, phone, text, message_key); the default only logs.
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.sms.LogSmsBackend")
# The outbox worker (notifications.outbox): claim size, lease, retries with exponential backoff.
NOTIFICATIONS_BATCH_SIZE = env_int("NOTIFICATIONS_BATCH_SIZE", 100)
NOTIFICATIONS_LEASE_SECONDS = env_int("NOTIFICATIONS_LEASE_SECONDS", 300)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 8)
NOTIFICATIONS_RETRY_BASE_SECONDS = env_int("NOTIFICATIONS_RETRY_BASE_SECONDS", 60)
NOTIFICATIONS_RETRY_MAX_SECONDS = env_int("NOTIFICATIONS_RETRY_MAX_SECONDS", 4 * 3600)

# Official documents (notifications.documents): font families per role, first choice first. The free
# Debian fonts are the default; a site with licensed 仿宋_GB2312 / 方正小标宋 installs them and names them
# first, e.g. DOCUMENT_FONT_BODY="FangSong_GB2312,Noto Serif CJK SC". A character no listed font has is
# an error, never a box.
DOCUMENT_FONTS = {
    "body": env_list("DOCUMENT_FONT_BODY", "FangSong_GB2312,仿宋_GB2312,Noto Serif CJK SC"),
    "title": env_list("DOCUMENT_FONT_TITLE", "FZXiaoBiaoSong-B05S,方正小标宋简体,Noto Serif CJK SC"),
    "heading": env_list("DOCUMENT_FONT_HEADING", "SimHei,黑体,Noto Sans CJK SC"),
    "kai": env_list("DOCUMENT_FONT_KAI", "KaiTi_GB2312,楷体_GB2312,AR PL UKai CN,Noto Serif CJK SC"),
}
# The issuing organ made on a fresh installation (then edited in the admin: 发文机关, with a seal image).
DOCUMENT_ISSUER = {
    "name": env_str("DOCUMENT_ISSUER_NAME", "绩效考评工作领导小组办公室"),
    "mark": env_str("DOCUMENT_ISSUER_MARK", "绩效考评工作领导小组办公室文件"),
    "code": env_str("DOCUMENT_ISSUER_CODE", "考评办"),
}

# Production hardening; `manage.py check --deploy` passes with DEBUG=0 and HTTPS settings.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins before any password check
    "django.contrib.auth.backends.ModelBackend",
    "cases.access.RolePermissionBackend",
]
# API tokens expire this many hours after they were issued (POST /api/v1/auth/token/ then issues a new one).
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 24)
# Login throttling (django-axes, see cases/accounts.py): a username + address pair is locked out after
# LOGIN_FAILURE_LIMIT wrong passwords in a row, for LOGIN_LOCKOUT_MINUTES; a right password resets the count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.errors.locked_out"
AXES_VERBOSE = False
# Behind the reverse proxy, the client's address is the proxy's X-Forwarded-For (README: Production).
AXES_IPWARE_META_PRECEDENCE_ORDER = env_list("LOGIN_CLIENT_IP_HEADERS", "REMOTE_ADDR")

# Serve static files straight from the app folders when collectstatic has not run (demo, tests).
WHITENOISE_USE_FINDERS = True
