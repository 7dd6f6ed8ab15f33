"""The fault tests point the one Celery app at brokers of their own; the tests
after them, in the same process, must find it as it was.

No broker is needed: pools and connections are made lazily, nothing here
publishes.
"""

from __future__ import annotations

from celery import shared_task
from kombu import Connection

from chengguan.celery import app
from tests.faults.conftest import celery_publishing_to

ELSEWHERE = "redis://127.0.0.1:1/0"


def publishes_to() -> str:
    """The broker the app's producers would publish to now (its password masked)."""
    return str(app.amqp.producer_pool.connections.connection.as_uri())


def masked(url: str) -> str:
    return str(Connection(url).as_uri())


def test_a_task_module_imported_after_publishing_elsewhere_is_registered():
    # given the app is finalized (tasks have been sent) and has published elsewhere, as a fault test does
    app.finalize()
    with celery_publishing_to(ELSEWHERE):
        pass

    # when a module of tasks is imported afterwards (as test_celery_worker imports liaisons.tasks)
    @shared_task(name="tests.faults.imported_late")
    def imported_late() -> None: ...

    # then its task is registered on the app and can be sent
    assert "tests.faults.imported_late" in app.tasks
    assert imported_late.name == "tests.faults.imported_late"


def test_publishing_elsewhere_uses_that_broker_and_then_the_one_before_again():
    # given the app has made its producers for the configured broker (an earlier non-eager test)
    before = app.conf.broker_url, app.conf.task_always_eager
    configured = publishes_to()
    assert app.conf.task_always_eager is True

    # when it publishes elsewhere, then it does, for real
    with celery_publishing_to(ELSEWHERE):
        assert publishes_to() == masked(ELSEWHERE)
        assert app.conf.task_always_eager is False

    # then afterwards it is as before: the configured broker, eager
    assert (app.conf.broker_url, app.conf.task_always_eager) == before
    assert publishes_to() == configured
