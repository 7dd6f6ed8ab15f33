import time
import pytest
from django.db import transaction
from django.test import Client
from tests.security.world import build_world, USERS
from tests.security.routes import route_keys, url_for, ARGS, ADMIN, CAPTCHA

@pytest.mark.django_db
def test_probe(settings):
    t = time.time()
    w = build_world()
    print("world", time.time() - t)
    out = []
    for key in sorted(route_keys() - {ADMIN, CAPTCHA}):
        row = []
        for name in USERS:
            user = w.users[name]
            c = Client()
            if user: c.force_login(user)
            cells = []
            for scoped in ((True, False) if key in ARGS else (True,)):
                for method in ("get", "post"):
                    with transaction.atomic():
                        url = url_for(key, w, scoped, user)
                        r = getattr(c, method)(url)
                        code = str(r.status_code)
                        if r.status_code == 302:
                            code += ">" + r["Location"][:20]
                        transaction.set_rollback(True)
                    cells.append(code)
            row.append(f"{name[:6]}={'/'.join(cells)}")
        out.append(key + "  " + " ".join(row))
    open("/tmp/probe.txt", "w").write("\n".join(out))
    print("total", time.time() - t)
