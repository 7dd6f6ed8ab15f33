"""Settings for the chengguan project.

Every setting comes from the environment (django-environ). The defaults are the
embedded development set-up: SQLite, files on disk, Celery on kombu's
filesystem transport. Set DATABASE_URL and REDIS_URL for PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CHENGGUAN_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
)
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

# DJANGO_ENV=production turns on what only makes sense behind TLS (SSL
# redirect, HSTS) and the compressed manifest for static files.
DJANGO_ENV = env("DJANGO_ENV", default="development")
IS_PRODUCTION = DJANGO_ENV == "production"
DEBUG = env("DEBUG")
# The default key is for development and tests only; `manage.py check --deploy`
# refuses it (chengguan.checks), so a production deployment must set SECRET_KEY.
DEV_SECRET_KEY = "django-insecure-dev-only-key-change-me"
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "chengguan.apps.ChengguanConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "captcha",
    "communities",
    "cases",
    "liaisons",
    "inspections",
]

MIDDLEWARE = [
    # First: every response carries a request id; probes answer before the SSL
    # redirect, host check and session.
    "chengguan.middleware.RequestIdMiddleware",
    "chengguan.middleware.HealthCheckMiddleware",
    # Logs each call made with an API key (one INSERT after the response).
    "chengguan.api_keys.ApiCallLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "chengguan.middleware.RequireOTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a lockout into the login page's message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chengguan.urls"

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
                "cases.context_processors.desk",
            ],
        },
    },
]

# Widgets through Jinja2, twice as fast as Django's engine (chengguan.forms_renderer).
FORM_RENDERER = "chengguan.forms_renderer.FormRenderer"

WSGI_APPLICATION = "chengguan.wsgi.application"
ASGI_APPLICATION = "chengguan.asgi.application"

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction opens, so two requests
    # acting on one case serialize instead of both reading the old state.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests in a file, not in memory: an in-memory database is one connection that
    # Django shares between the live server's request threads, and two browser
    # requests at once (the dashboard's charts) could hang on it.
    DATABASES["default"].setdefault("TEST", {"NAME": str(VAR_DIR / "test-db.sqlite3")})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # PostgreSQL's JIT compiles any query it estimates as costly, and at a
    # million cases the counts of every staff page (worklist badges, list
    # totals) pass that estimate: measured 2.6 s of compiling against 0.1 s of
    # work for one count. Web requests read little, so no JIT (PG_JIT=on to
    # have it back, e.g. for a reporting replica).
    if not env.bool("PG_JIT", default=False):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    # A case page joins a dozen small tables to the case it reads by its number:
    # the planner spent 11 ms searching join orders for 0.5 ms of work (at a
    # million cases, measured). Web queries start from the case table and its
    # indexes, so their joins are kept in the order Django writes them
    # (PG_JOIN_COLLAPSE_LIMIT=8 gives PostgreSQL's own search back, e.g. for a
    # reporting replica).
    join_limit = env.int("PG_JOIN_COLLAPSE_LIMIT", default=1)
    if join_limit != 8:
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c join_collapse_limit={join_limit}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# After a cache call or a task publish gets no answer from Redis (connection
# error or timeout), each process treats that Redis as down for this many
# seconds: cache calls answer as misses and publishes take their fallback at
# once, then one call tries again (chengguan.redis_breaker). 0: never.
CACHE_BREAKER_SECONDS = env.float("CACHE_BREAKER_SECONDS", default=5.0)
if REDIS_URL:
    # django-redis rather than Django's own RedisCache: with Redis unreachable
    # every cache call answers as a miss or does nothing (IGNORE_EXCEPTIONS)
    # instead of raising, so residents still file complaints (the rate limits
    # fail open, see RATELIMIT_FAIL_OPEN) and staff pages count afresh. The
    # outage is logged (one warning a minute, chengguan.logging.CacheOutageFilter)
    # and /healthz pings Redis itself (chengguan.health). The short timeouts
    # bound what each cache call can cost while Redis does not answer, and the
    # breaker (chengguan.redis_breaker) makes only the first call of each
    # CACHE_BREAKER_SECONDS pay them: the others answer at once.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="chengguan"),
            "OPTIONS": {
                "CLIENT_CLASS": "chengguan.redis_breaker.BreakerClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=1.0),
            },
        }
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    # A job whose worker died unacknowledged is handed out again after this
    # many seconds; it must exceed the longest job (and any countdown/eta).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # Without a socket timeout a publish to a Redis that accepts the
        # connection and never answers waits forever (kombu's default). Above
        # the consumer's 1 s BRPOP poll.
        "socket_connect_timeout": 1.0,
        "socket_timeout": 2.0,
    }
else:
    # No server needed: the cache is a directory shared by web, worker and beat,
    # and the broker is kombu's filesystem transport.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost//")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
    }
    # The transport expects its folders to exist.
    for _folder in (_queue_dir, VAR_DIR / "celery-control"):
        _folder.mkdir(parents=True, exist_ok=True)

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a job killed mid-run is redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Supervisors' daily digest (cases.jobs.send_daily_digests), local time "HH:MM".
DAILY_DIGEST_AT = tuple(int(part) for part in env("DAILY_DIGEST_AT", default="08:00").split(":"))
# Synced into django-celery-beat's tables at beat start-up; edit times in the admin.
CELERY_BEAT_SCHEDULE = {
    "escalate-overdue-cases": {"task": "cases.tasks.escalate_overdue_cases", "schedule": 300.0},
    # Retries the pushes to the 12345 platform that are due (cases.hotline).
    "retry-hotline-pushes": {"task": "cases.tasks.retry_hotline_pushes", "schedule": 60.0},
    # SMS/email whose delivery task never reached the broker (it was down): chengguan.messaging.
    "deliver-pending-messages": {"task": "cases.tasks.sweep_pending_messages", "schedule": 120.0},
    # Exports whose run_export_job task never reached the broker (cases.exports).
    "requeue-pending-exports": {"task": "cases.tasks.requeue_pending_exports", "schedule": 300.0},
    "remind-deadlines": {"task": "cases.tasks.remind_deadlines", "schedule": 600.0},
    "send-daily-digests": {
        "task": "cases.tasks.send_daily_digests",
        "schedule": crontab(minute=DAILY_DIGEST_AT[1], hour=DAILY_DIGEST_AT[0]),
    },
    "schedule-return-visits": {"task": "cases.tasks.schedule_return_visits", "schedule": 3600.0},
    "remind-return-visits": {
        "task": "cases.tasks.remind_return_visits",
        "schedule": crontab(minute=0, hour=8),
    },
    "schedule-patrols": {"task": "liaisons.tasks.schedule_patrols", "schedule": crontab(minute=30, hour=0)},
    "remind-patrols": {"task": "liaisons.tasks.remind_patrols", "schedule": crontab(minute=0, hour="7,17")},
    "flag-missed-patrols": {
        "task": "liaisons.tasks.flag_missed_patrols",
        "schedule": crontab(minute=15, hour=0),
    },
    # Backup liaisons (AB角) gain and lose a community's access at their cover periods' edges.
    "sync-cover-periods": {"task": "liaisons.tasks.sync_cover_periods", "schedule": 300.0},
    "remind-reinspections": {
        "task": "inspections.tasks.remind_reinspections",
        "schedule": crontab(minute=0, hour="8,14"),
    },
    "remind-expiring-agreements": {
        "task": "inspections.tasks.remind_expiring_agreements",
        "schedule": crontab(minute=0, hour=9),
    },
    "purge-expired-exports": {
        "task": "cases.tasks.purge_expired_exports",
        "schedule": crontab(minute=40, hour=3),
    },
    "prune-api-call-logs": {
        "task": "cases.tasks.prune_api_call_logs",
        "schedule": crontab(minute=50, hour=3),
    },
    # Reporters' personal data of cases past PERSONAL_DATA_RETENTION_MONTHS (cases.retention).
    "anonymise-closed-cases": {
        "task": "cases.tasks.anonymise_closed_cases",
        "schedule": crontab(minute=20, hour=2),
    },
}

# --- Auth and permissions -----------------------------------------------------
AUTH_USER_MODEL = "chengguan.User"
AUTHENTICATION_BACKENDS = [
    # First, as django-axes requires: refuses a locked-out username+address.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: anonymous users get no object permissions
GUARDIAN_MONKEY_PATCH_USER = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Django's validators; their messages come translated in Django's zh_Hans catalog.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "name", "phone", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions last one working shift and end when the browser closes; they are
# not extended by activity, so a stolen cookie is worth at most one shift.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Every staff request reads its session: from Redis when there is one, written
# through to the database, so a Redis restart signs nobody out.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Brute force (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "chengguan.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "chengguan.security.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Two-factor sign-in (django-otp, TOTP + single-use recovery codes): required
# for these roles (chengguan.roles.Role values), optional for everyone else.
OTP_REQUIRED_ROLES = env.list("OTP_REQUIRED_ROLES", default=["supervisor", "admin"])
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="城管进社区")
OTP_RECOVERY_CODES = 10

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = env("MEDIA_URL", default="media/")
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Photos hidden by moderation live here, outside MEDIA_ROOT, and are never
# served by URL (cases.attachments.private_storage; STORAGES["private"] wins).
PRIVATE_MEDIA_ROOT = env("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))
# Uploaded files go through the storage API: the filesystem by default,
# S3-compatible object storage (django-storages) with MEDIA_STORAGE=s3.
MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "s3":
    _media_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "custom_domain": env("AWS_S3_CUSTOM_DOMAIN", default=None),
            "location": env("AWS_LOCATION", default="media"),
            # Photos carry personal data: private objects, links that expire.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="auto"),
        },
    }
elif MEDIA_STORAGE == "filesystem":
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}.")
# Static files are served by WhiteNoise. In production they are collected
# with hashed names and pre-compressed (run `manage.py collectstatic`);
# elsewhere they are read from the source folders, so nothing needs collecting.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=IS_PRODUCTION)
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if MEDIA_STORAGE == "s3":
    # Hidden photos (cases.attachments.private_storage) in the same bucket under
    # another prefix, or in AWS_PRIVATE_STORAGE_BUCKET_NAME.
    _private_options = dict(_media_storage["OPTIONS"])  # type: ignore[call-overload]
    _private_options.update(
        bucket_name=env("AWS_PRIVATE_STORAGE_BUCKET_NAME", default=_private_options["bucket_name"]),
        location=env("AWS_PRIVATE_LOCATION", default="private"),
        custom_domain=None,
    )
    STORAGES["private"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _private_options}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Domain settings ----------------------------------------------------------
# Office hours on a working day; the working-time calendar counts only these.
WORKDAY_PERIODS = env.list("WORKDAY_PERIODS", default=["09:00-12:00", "13:00-18:00"])
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_PIXELS = env.int("ATTACHMENT_MAX_PIXELS", default=40_000_000)
CASE_NUMBER_PREFIX = env("CASE_NUMBER_PREFIX", default="CG")
# Abuse limits on the public complaint form (django-ratelimit rates) and the
# number of reports from one address per hour before a CAPTCHA is asked for
# (0: never ask, and nothing is counted).
PUBLIC_REPORT_RATE_PER_IP = env("PUBLIC_REPORT_RATE_PER_IP", default="20/h")
PUBLIC_REPORT_RATE_PER_PHONE = env("PUBLIC_REPORT_RATE_PER_PHONE", default="10/d")
PUBLIC_REPORT_CAPTCHA_AFTER = env.int("PUBLIC_REPORT_CAPTCHA_AFTER", default=3)
PUBLIC_TRACK_MISSES_PER_IP = env("PUBLIC_TRACK_MISSES_PER_IP", default="30/h")
PUBLIC_NEARBY_RATE_PER_IP = env("PUBLIC_NEARBY_RATE_PER_IP", default="120/h")
# Load benchmarks only (bench/load.py): ABUSE_LIMITS_ENABLED=false switches off
# the public pages' rate limits (django-ratelimit's RATELIMIT_ENABLE) and the
# complaint form's CAPTCHA. Refused with DJANGO_ENV=production.
ABUSE_LIMITS_ENABLED = env.bool("ABUSE_LIMITS_ENABLED", default=True)
RATELIMIT_ENABLE = ABUSE_LIMITS_ENABLED
if not ABUSE_LIMITS_ENABLED:
    PUBLIC_REPORT_CAPTCHA_AFTER = 0
# Load benchmarks only: mounts /bench/ceiling/, a bare view doing one INSERT
# into the bench_ceiling table bench/load.py creates (chengguan.bench_views).
BENCH_CEILING_ENABLED = env.bool("BENCH_CEILING_ENABLED", default=False)
# Behind a reverse proxy, the header carrying the client address, e.g.
# HTTP_X_REAL_IP (django-ratelimit); unset means REMOTE_ADDR.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default=None)
# When the cache cannot count (Redis down), let the request through rather
# than refuse every resident (django-ratelimit fails closed by default).
RATELIMIT_FAIL_OPEN = True
CAPTCHA_IMAGE_SIZE = (120, 40)
CAPTCHA_LENGTH = 4
# Handlers are reminded this many working hours before a case's deadline (cases.jobs.remind_deadlines).
DEADLINE_REMINDER_BEFORE = timedelta(hours=env.float("DEADLINE_REMINDER_HOURS", default=4.0))
# Where the site is served, e.g. "https://cg.example.gov.cn": links in staff emails and SMS.
SITE_URL = env("SITE_URL", default="")
# Working days after closure by which the liaison calls the reporter back (回访).
RETURN_VISIT_DAYS = env.int("RETURN_VISIT_DAYS", default=3)
# SMS gateway class (chengguan.messaging); the console backend only logs.
SMS_BACKEND = env("SMS_BACKEND", default="chengguan.messaging.ConsoleSMSBackend")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@chengguan.local")
# Public map tiles, e.g. "https://tiles.example.org/{z}/{x}/{y}.png"; empty
# means no tiles: the map shows community boundaries only and the page
# talks to no other host.
MAP_TILE_URL = env("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", default="")
# Case list exports: up to this many rows stream at once, more run as a Celery
# job whose file is deleted this many days after it was written.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=10_000)
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
# The dashboard's figures of the current period are at most this old (its
# "refresh" link recomputes them); 0 computes them on every request.
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=60)
# The monthly assessment's figures of a month that is over are at most this
# old (a month under way: DASHBOARD_CACHE_SECONDS; its "refresh" link too);
# 0 computes them on every request. Its exports are always computed anew.
ASSESSMENT_CACHE_SECONDS = env.int("ASSESSMENT_CACHE_SECONDS", default=3600)

# --- REST API (/api/v1/) and Open311 (/open311/v2/) ----------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous client is told how to authenticate (401 with
    # WWW-Authenticate) instead of getting a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "chengguan.api_keys.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "chengguan.api_keys.ApiKeyWritePermission",
    ],
    # JSON only: people explore the API on the documentation page (/api/docs/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "chengguan.api_pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="60/minute"),
        "user": env("API_THROTTLE_USER", default="1200/minute"),
    },
    "EXCEPTION_HANDLER": "chengguan.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "城管进社区 API",
    "DESCRIPTION": (
        "Casework of the community city-management system. Every object is seen through the "
        "same permission gate as the staff pages: what is outside the caller's scope is 404. "
        "Errors are JSON objects with `code`, `message` and `fields`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chengguan.api.drop_database_integer_bounds",
    ],
    # Self-hosted Swagger UI (drf-spectacular-sidecar): the docs page loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from the public validator: the page talks to this server only.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "cases.choices.CaseStatus",
        "CaseSourceEnum": "cases.choices.CaseSource",
        "UrgencyEnum": "cases.choices.Urgency",
        "RejectReasonEnum": "cases.choices.RejectReason",
        "CategoryKindEnum": "cases.choices.CategoryKind",
        "CommunityKindEnum": "communities.choices.CommunityKind",
        "HandlingUnitKindEnum": "communities.choices.UnitKind",
        "ShopKindEnum": "inspections.choices.UnitKind",
        "CaseAttachmentKindEnum": "cases.choices.AttachmentKind",
        # Extension and parking requests share one set of statuses (same values, one enum).
        "RequestStatusEnum": "cases.choices.ParkingRequestStatus",
    },
}
# Open311 GeoReport v2. The jurisdiction this server answers for (empty: any
# jurisdiction_id is accepted); whether service requests may be read without
# an api_key (off: a key reads the requests of its own source only).
OPEN311_JURISDICTION_ID = env("OPEN311_JURISDICTION_ID", default="")
OPEN311_PUBLIC_READS = env.bool("OPEN311_PUBLIC_READS", default=False)
OPEN311_CONTACT = env("OPEN311_CONTACT", default="")
# Requests with an api_key are counted per client at this rate (anonymous
# ones at the API's anon rate).
OPEN311_CLIENT_RATE = env("OPEN311_CLIENT_RATE", default="600/minute")
# Pushing status changes back to the 12345 platform (cases.hotline): the
# address this site is reached at (photo URLs in the pushes are built on it),
# the HTTP timeouts in seconds (connect, read), the retry backoff (first wait
# and ceiling, in seconds, doubled after each failure, with jitter) and the
# attempts before a push is given up (dead) and listed for the operators.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000/")
HOTLINE_PUSH_CONNECT_TIMEOUT = env.float("HOTLINE_PUSH_CONNECT_TIMEOUT", default=3.0)
HOTLINE_PUSH_READ_TIMEOUT = env.float("HOTLINE_PUSH_READ_TIMEOUT", default=10.0)
HOTLINE_PUSH_BACKOFF = env.int("HOTLINE_PUSH_BACKOFF", default=60)
HOTLINE_PUSH_BACKOFF_MAX = env.int("HOTLINE_PUSH_BACKOFF_MAX", default=6 * 3600)
HOTLINE_PUSH_MAX_ATTEMPTS = env.int("HOTLINE_PUSH_MAX_ATTEMPTS", default=10)
# Calls made with API keys (cases.ApiCallLog) are kept this many days.
API_CALL_LOG_RETENTION_DAYS = env.int("API_CALL_LOG_RETENTION_DAYS", default=90)
# Reporters' names and phone numbers are removed this many months after their
# case is closed or rejected (PIPL; cases.retention, beat job anonymise-closed-cases).
PERSONAL_DATA_RETENTION_MONTHS = env.int("PERSONAL_DATA_RETENTION_MONTHS", default=24)

# One JSON object per line (python-json-logger) carrying the request id of the
# web request or of the request that queued the Celery task; LOG_FORMAT=plain
# for people reading a terminal (the default with DEBUG).
LOG_FORMAT = env("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "chengguan.logging.RequestIdFilter"},
        "cache_outage": {"()": "chengguan.logging.CacheOutageFilter", "interval": 60},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-redis logs each cache call it answered as a miss while Redis was down.
        "django_redis.cache": {"filters": ["cache_outage"]},
    },
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# The worker logs through the configuration above instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Incoming X-Request-ID values are kept when they look like an id, else replaced.
REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)

if IS_PRODUCTION:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see deploy/).
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")
    if "ALLOWED_HOSTS" not in env.ENVIRON:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS (comma-separated host names) in production.")
    if not ABUSE_LIMITS_ENABLED or BENCH_CEILING_ENABLED:
        raise ImproperlyConfigured(
            "ABUSE_LIMITS_ENABLED=false and BENCH_CEILING_ENABLED are for benchmarks only."
        )
    _proxy_header = env("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
    SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
