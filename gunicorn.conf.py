"""gunicorn settings for production, every one from the environment.

    gunicorn chengguan.wsgi:application -c gunicorn.conf.py

Threads serve slow clients and database waits without more memory; workers
use the cores. Access log lines are JSON and carry the request id.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Sync workers, four per core: a request's Python runs without sharing a GIL,
# and the database and Redis waits of some overlap the work of others. On two
# cores (bench/load.py, 20 concurrent residents) 8 sync workers held complaint
# p95 at 160-180 ms where 4 workers × 4 threads let it reach 280-340 ms.
# Slow clients are the reverse proxy's to absorb: it must buffer requests and
# responses (nginx does by default). GUNICORN_THREADS > 1 switches to gthread.
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 4)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never grows; jitter keeps them
# from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Only the reverse proxy may say which scheme and client address a request had.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Request bodies are capped by Django (DATA_UPLOAD_MAX_MEMORY_SIZE); these
# bound the header section.
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = (
    '{"time":"%(t)s","logger":"gunicorn.access","remote":"%(h)s","method":"%(m)s",'
    '"path":"%(U)s","query":"%(q)s","status":%(s)s,"bytes":"%(B)s","duration_ms":%(M)s,'
    '"request_id":"%({x-request-id}o)s","user_agent":"%(a)s"}'
)
# Load the application before forking: faster worker starts, shared memory.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes")
