"""Production configuration: check --deploy, static and media storage, gunicorn, process files."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k3y-for-the-deploy-check-" + "x" * 40,
    "ALLOWED_HOSTS": "chengguan.example.gov.cn",
    "CSRF_TRUSTED_ORIGINS": "https://chengguan.example.gov.cn",
}

PROBE = """
import json, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "chengguan.settings"
django.setup()
from django.conf import settings
from django.core.files.storage import storages
out = {
    "static": type(storages["staticfiles"]).__name__,
    "media": type(storages["default"]).__name__,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "log_formatter": settings.LOGGING["handlers"]["console"]["formatter"],
}
if out["media"] == "S3Storage":
    out["bucket"] = storages["default"].bucket_name
    out["endpoint"] = storages["default"].endpoint_url
    out["querystring_auth"] = storages["default"].querystring_auth
    out["private"] = type(storages["private"]).__name__
    out["private_location"] = storages["private"].location
print(json.dumps(out))
"""


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_ENV", "ALLOWED_HOSTS", "MEDIA_STORAGE"}
    }
    clean.update(env, CHENGGUAN_VAR_DIR=str(tmp_path))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True)


def probe(tmp_path: Path, **env: str) -> dict:
    result = run(["-c", PROBE], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# Every tagged check; drf-spectacular's untagged one (schema naming) is the
# OpenAPI test's business (tests/chengguan/test_openapi.py).
CHECK_TAGS = [
    "admin", "caches", "commands", "compatibility", "database", "files", "models",
    "security", "staticfiles", "templates", "translation", "urls",
]  # fmt: skip
DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"] + [
    arg for tag in CHECK_TAGS for arg in ("--tag", tag)
]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    # Given the production environment
    # When Django's deployment checklist runs
    result = run(DEPLOY_CHECK, tmp_path, **PRODUCTION_ENV)
    # Then it finds nothing: no warnings, no errors
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_refuses_the_development_defaults(tmp_path):
    # Given no production settings at all
    result = run(DEPLOY_CHECK, tmp_path)
    # Then the checklist fails and names what is missing
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check in ("security.W004", "security.W008", "chengguan.E001"):
        assert check in output


def test_production_turns_on_tls_settings_and_manifest_static_files(tmp_path):
    config = probe(tmp_path, **PRODUCTION_ENV)
    assert config["ssl_redirect"] is True
    assert config["hsts"] >= 31536000
    assert config["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert config["session_secure"] is True
    assert config["static"] == "CompressedManifestStaticFilesStorage"
    assert config["media"] == "FileSystemStorage"
    assert config["log_formatter"] == "json"


def test_development_keeps_plain_static_files_and_no_redirect(tmp_path):
    config = probe(tmp_path)
    assert config["static"] == "StaticFilesStorage"
    assert config["ssl_redirect"] is False
    assert config["hsts"] == 0


def test_production_without_allowed_hosts_refuses_to_start(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "ALLOWED_HOSTS"}
    result = run(["-c", PROBE], tmp_path, **env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_refuses_debug(tmp_path):
    result = run(["-c", PROBE], tmp_path, DEBUG="true", **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_media_goes_to_s3_compatible_storage_when_configured(tmp_path):
    # Given object storage settings (no request is made to build the storage)
    config = probe(
        tmp_path,
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="chengguan-media",
        AWS_S3_ENDPOINT_URL="https://oss.example.cn",
        AWS_ACCESS_KEY_ID="id",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    # Then uploads and hidden photos use the bucket, with expiring links
    assert config["media"] == "S3Storage"
    assert config["bucket"] == "chengguan-media"
    assert config["endpoint"] == "https://oss.example.cn"
    assert config["querystring_auth"] is True
    assert config["private"] == "S3Storage"
    assert config["private_location"] == "private"


def test_an_unknown_media_storage_is_refused(tmp_path):
    result = run(["-c", PROBE], tmp_path, MEDIA_STORAGE="ftp")
    assert result.returncode != 0
    assert "MEDIA_STORAGE" in result.stderr


def test_gunicorn_takes_workers_threads_and_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "45")
    monkeypatch.setenv("PORT", "9000")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["workers"], config["threads"], config["timeout"]) == (3, 8, 45)
    assert config["worker_class"] == "gthread"
    assert config["bind"] == "0.0.0.0:9000"
    assert "x-request-id" in config["access_log_format"]


def test_gunicorn_configuration_is_accepted_by_gunicorn(tmp_path):
    # gunicorn's own parser validates every setting name and value.
    result = run(
        ["-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py", "chengguan.wsgi:application"], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_procfile_runs_web_worker_and_beat_as_separate_processes():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert set(processes) == {"web", "worker", "beat"}
    assert "gunicorn" in processes["web"] and "gunicorn.conf.py" in processes["web"]
    assert "celery -A chengguan worker" in processes["worker"]
    assert "celery -A chengguan beat" in processes["beat"]


def test_systemd_units_exist_for_each_process():
    for name, command in (
        ("chengguan-web.service", "gunicorn chengguan.wsgi:application -c gunicorn.conf.py"),
        ("chengguan-worker.service", "celery -A chengguan worker"),
        ("chengguan-beat.service", "celery -A chengguan beat"),
    ):
        unit = (ROOT / "deploy" / name).read_text()
        assert "[Service]" in unit and "[Install]" in unit
        assert command in unit
        assert "EnvironmentFile=/etc/chengguan/env" in unit
