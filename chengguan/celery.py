import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chengguan.settings")

app = Celery("chengguan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every task carries the request id of whoever queued it (chengguan.logging).
from chengguan.logging import connect_celery_signals  # noqa: E402

connect_celery_signals()
