"""Settings come from the environment, with the embedded defaults when unset."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "chengguan.settings"
django.setup()
from django.conf import settings
from chengguan.celery import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "broker": app.conf.broker_url,
    "language": settings.LANGUAGE_CODE,
    "tz": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
    "debug": settings.DEBUG,
}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    clean.update(env, CHENGGUAN_VAR_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults_need_no_server(tmp_path):
    # Given no DATABASE_URL or REDIS_URL
    config = probe(tmp_path)
    # Then SQLite, a file cache and the filesystem broker are used
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["name"].startswith(str(tmp_path))
    assert config["cache"].endswith("FileBasedCache")
    assert config["broker"].startswith("filesystem://")
    assert (tmp_path / "celery-queue").is_dir()
    assert config["language"] == "zh-hans"
    assert config["tz"] == "Asia/Shanghai"
    assert config["use_tz"] is True
    assert config["debug"] is False


def test_database_and_redis_urls_switch_backends(tmp_path):
    config = probe(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example:5432/chengguan",
        REDIS_URL="redis://cache.example:6379/1",
    )
    assert config["engine"] == "django.db.backends.postgresql"
    assert config["name"] == "chengguan"
    assert config["cache"] == "django_redis.cache.RedisCache"
    # Redis down: cache calls answer misses instead of raising (tests/chengguan/test_cache_outage.py)
    assert config["cache_options"]["IGNORE_EXCEPTIONS"] is True
    assert config["broker"] == "redis://cache.example:6379/1"


@pytest.mark.redis
def test_cache_round_trip_through_real_redis(settings):
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    cache.set("chengguan-test-key", {"ok": 1}, timeout=10)
    assert cache.get("chengguan-test-key") == {"ok": 1}
