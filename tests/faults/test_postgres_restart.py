"""PostgreSQL restarted under load: requests fail cleanly and recover without a restart of the app.

A real restart of a real server: the test starts a PostgreSQL cluster of its
own (initdb into a temporary directory, on FAULT_PG_PORT), migrates a
database on it, serves it with gunicorn and stops the server with `pg_ctl
stop -m fast` while requests keep coming, then starts it again. The shared
server on 5432 is never touched. While it is down, pages answer 503 with a
page of their own and the API a JSON 503, never a traceback, and gunicorn
keeps accepting connections; once it is back, the same gunicorn worker
answers 200 again (CONN_HEALTH_CHECKS drops the dead connections and the next
query reconnects). test_database_outage.py is the cheap, simulated variant.

Needs the PostgreSQL server binaries (initdb, pg_ctl; Debian's postgresql
package puts them in /usr/lib/postgresql/<version>/bin) and is skipped
without them. initdb refuses to run as root, so as root they run as the
`postgres` OS user.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.conftest import ROOT, Load, gunicorn, gunicorn_workers, port_open

pytestmark = [pytest.mark.postgres]
FAULT_PG_PORT = int(os.environ.get("FAULT_PG_PORT", "55433"))


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian's layout, else PATH)."""
    found = [pg_ctl.parent for pg_ctl in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    if found:
        return max(found, key=lambda bin_dir: [int(n) for n in re.findall(r"\d+", bin_dir.parent.name)])
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


class OwnPostgres:
    """A PostgreSQL cluster in a temporary directory that a test can stop and start again."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0
        # Not under pytest's tmp_path: as root that is a directory the
        # postgres user may not enter.
        self.dir = Path(tempfile.mkdtemp(prefix="chengguan-fault-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.url = f"postgres://postgres@127.0.0.1:{FAULT_PG_PORT}/chengguan"
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)

    def pg(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output to a file, not a pipe: the server pg_ctl starts outlives it.
        with (self.dir / "pg_ctl.log").open("ab") as output:
            result = subprocess.run(
                command, cwd=self.dir, stdout=output, stderr=subprocess.STDOUT, timeout=60
            )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.dir.glob("*.log"))

    def create(self) -> None:
        assert not port_open(FAULT_PG_PORT), f"port {FAULT_PG_PORT} is taken (set FAULT_PG_PORT)"
        self.pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {FAULT_PG_PORT}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        self.start()
        with psycopg.connect(self.url.replace("/chengguan", "/postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE chengguan")

    def start(self) -> None:
        self.pg("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30")

    def stop(self, mode: str = "fast") -> None:
        self.pg("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def remove(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    bin_dir = server_binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, initdb needs the `postgres` OS user, which does not exist")
        if shutil.which("runuser") is None:
            pytest.fail("running as root, initdb needs runuser (util-linux) to run as `postgres`")
    server = OwnPostgres(bin_dir)
    try:
        server.create()
        yield server
    finally:
        server.remove()


# Run by `manage.py shell` against the own cluster: the data the requests
# need, printed as JSON on the last line.
SEED = """
import json
from cases import services
from cases.choices import CaseSource
from chengguan.roles import Role
from tests import factories
from tests.faults.conftest import signed_in_cookie

district = factories.DistrictFactory()
factories.CommunityFactory(street=factories.StreetFactory(district=district), origin=(120.00, 30.00))
case = services.case_report(
    source=CaseSource.WEB, category=factories.leaf_category(), description="夜间施工噪声扰民",
    lat=30.005, lng=120.005,
)
cookie = signed_in_cookie(factories.staff(Role.OPERATOR, scope=district))
print(json.dumps({"tracking_code": case.tracking_code, "number": case.number, "cookie": cookie}))
"""


def manage(workdir: Path, database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "CHENGGUAN_VAR_DIR": str(workdir)}
    env.pop("REDIS_URL", None)  # tasks the seeding enqueues stay in the var dir
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def database(own_postgres, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A migrated database on the own cluster with a case and a signed-in operator."""
    manage(tmp_path, own_postgres.url, "migrate", "--verbosity=0")
    output = manage(tmp_path, own_postgres.url, "shell", "--command", SEED)
    return json.loads(output.strip().splitlines()[-1])


def test_requests_fail_with_503_while_postgres_restarts_and_recover_without_a_restart(
    own_postgres, database, tmp_path
):
    pages = [f"/track/{database['tracking_code']}/", "/api/v1/cases/", f"/cases/{database['number']}/"]
    with gunicorn(tmp_path, own_postgres.url) as web:
        workers = gunicorn_workers(web)
        # given a steady stream of requests to the running server
        with Load(pages, database["cookie"]) as load:
            load.wait_for(200, times=1)
            # when PostgreSQL is stopped for a while
            own_postgres.stop("fast")
            load.wait_for(503, times=3, timeout=20)
            # and started again
            own_postgres.start()
            load.wait_for(200, times=3, timeout=20)

        # then nothing but 200 and 503 was answered (gunicorn never refused a
        # connection), the 503s without a traceback, and the same worker
        # process serves again
        load.assert_failed_cleanly()
        assert web.poll() is None
        assert gunicorn_workers(web) == workers
