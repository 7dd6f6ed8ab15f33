"""Settings for the chengguan project.

Every setting comes from the environment (django-environ). The defaults are the
embedded development set-up: SQLite, files on disk, Celery on kombu's
filesystem transport. Set DATABASE_URL and REDIS_URL for PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CHENGGUAN_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
)
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

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
    "captcha",
    "communities",
    "cases",
    "liaisons",
    "inspections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="chengguan"),
        }
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
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
# Synced into django-celery-beat's tables at beat start-up; edit times in the admin.
CELERY_BEAT_SCHEDULE = {
    "escalate-overdue-cases": {"task": "cases.tasks.escalate_overdue_cases", "schedule": 300.0},
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
    "remind-reinspections": {
        "task": "inspections.tasks.remind_reinspections",
        "schedule": crontab(minute=0, hour="8,14"),
    },
    "remind-expiring-agreements": {
        "task": "inspections.tasks.remind_expiring_agreements",
        "schedule": crontab(minute=0, hour=9),
    },
}

# --- Auth and permissions -----------------------------------------------------
AUTH_USER_MODEL = "chengguan.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: anonymous users get no object permissions
GUARDIAN_MONKEY_PATCH_USER = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Domain settings ----------------------------------------------------------
# Office hours on a working day; the working-time calendar counts only these.
WORKDAY_PERIODS = env.list("WORKDAY_PERIODS", default=["09:00-12:00", "13:00-18:00"])
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_PIXELS = env.int("ATTACHMENT_MAX_PIXELS", default=40_000_000)
CASE_NUMBER_PREFIX = env("CASE_NUMBER_PREFIX", default="CG")
# Abuse limits on the public complaint form (django-ratelimit rates) and the
# number of reports from one address per hour before a CAPTCHA is asked for.
PUBLIC_REPORT_RATE_PER_IP = env("PUBLIC_REPORT_RATE_PER_IP", default="20/h")
PUBLIC_REPORT_RATE_PER_PHONE = env("PUBLIC_REPORT_RATE_PER_PHONE", default="10/d")
PUBLIC_REPORT_CAPTCHA_AFTER = env.int("PUBLIC_REPORT_CAPTCHA_AFTER", default=3)
PUBLIC_TRACK_MISSES_PER_IP = env("PUBLIC_TRACK_MISSES_PER_IP", default="30/h")
PUBLIC_NEARBY_RATE_PER_IP = env("PUBLIC_NEARBY_RATE_PER_IP", default="120/h")
# Behind a reverse proxy, the header carrying the client address, e.g.
# HTTP_X_REAL_IP (django-ratelimit); unset means REMOTE_ADDR.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default=None)
CAPTCHA_IMAGE_SIZE = (120, 40)
CAPTCHA_LENGTH = 4
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

# --- REST API (/api/v1/) and Open311 (/open311/v2/) ----------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous client is told how to authenticate (401 with
    # WWW-Authenticate) instead of getting a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
