"""Loose ends of the casework desk.

* An export made while the broker is down is not lost: the job waits,
  pending, and the requeue-pending-exports sweep runs it once the broker is
  back (chengguan.messaging).
* Every download of an export's file is audited, like its creation.
* A hidden photo can be shown again by the roles that hide photos, with a
  reason: the event is written, the file goes back to public storage and
  the public pages show it again.
* A new category or urgency recounts the open case's deadlines with the new
  time limits, from the start of the stage, and the event records it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse

from cases import services
from cases.attachments import private_storage
from cases.choices import CaseAction, CaseStatus, Urgency
from cases.exports import export_jobs_requeue
from cases.models import Case, CaseAttachment, CaseEvent, ExportJob
from chengguan import clock
from chengguan.clock import frozen_at
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry
from chengguan.roles import Role
from tests.api import as_user, assert_error
from tests.cases.test_moderation import png
from tests.factories import CaseFactory, DistrictFactory, aware, leaf_category, staff

pytestmark = pytest.mark.django_db


# --- 1. exports survive a broker outage ------------------------------------------------------


class Broker:
    """Publishing fails as kombu fails with the broker unreachable, until `back()`.

    (Pointing the Celery app at a closed port instead depended on what earlier
    tests had left in the app's connection pools.)
    """

    def __init__(self) -> None:
        self.up = False

    def back(self) -> None:
        self.up = True


@pytest.fixture
def broker_down(monkeypatch) -> Iterator[Broker]:
    from celery.app.task import Task
    from kombu.exceptions import OperationalError

    broker = Broker()
    publish = Task.apply_async

    def apply_async(task: Any, *args: Any, **kwargs: Any) -> Any:
        if not broker.up:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
        return publish(task, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    yield broker


def test_an_export_made_while_the_broker_is_down_runs_once_it_is_back(
    client, supervisor, community, settings, broker_down, django_capture_on_commit_callbacks
):
    # Given a list larger than what streams at once, and the broker down
    settings.EXPORT_SYNC_MAX_ROWS = 2
    CaseFactory.create_batch(3, community=community, status=CaseStatus.REGISTERED)
    client.force_login(supervisor)

    # When the supervisor exports it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("cases:export"), {"list": "cases", "querystring": "", "format": "csv"})

    # Then the request succeeds, the job is made and audited, and waits
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:export_job", args=[job.pk])
    assert AuditEntry.objects.filter(action="cases.exported", target_id=str(job.pk)).exists()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.PENDING and not job.file
    # The sweep cannot reach the broker either: nothing is lost, nothing runs
    assert export_jobs_requeue(older_than=timedelta(0)) == 0
    assert ExportJob.objects.get().status == ExportJob.Status.PENDING

    # When the broker is back and the sweep fires
    broker_down.back()
    assert export_jobs_requeue(older_than=timedelta(0)) == 1

    # Then the export is written, and a later sweep leaves it alone
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (ExportJob.Status.DONE, 3)
    assert job.file.name.startswith(f"exports/{supervisor.pk}/")
    assert export_jobs_requeue(older_than=timedelta(0)) == 0


def test_the_sweep_leaves_recent_and_finished_jobs_alone(supervisor):
    now = clock.now()
    fresh = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv", created_at=now)
    for status in ["running", "done", "failed", "expired"]:
        ExportJob.objects.create(
            owner=supervisor,
            list_key="cases",
            format="csv",
            status=status,
            created_at=now - timedelta(hours=1),
        )

    # A job made a minute ago may still be in the queue: not yet
    with frozen_at(now + timedelta(minutes=1)):
        assert export_jobs_requeue() == 0
    # Ten minutes on, it is run
    with frozen_at(now + timedelta(minutes=11)):
        assert export_jobs_requeue() == 1

    fresh.refresh_from_db()
    assert fresh.status == ExportJob.Status.DONE


def test_the_export_sweep_runs_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-pending-exports"]

    assert entry["task"] == "cases.tasks.requeue_pending_exports"


# --- 2. downloads are audited ------------------------------------------------------------------


@pytest.fixture
def done_job(supervisor):  # type: ignore[no-untyped-def]
    job = ExportJob.objects.create(
        owner=supervisor,
        list_key="overdue",
        querystring="status=dispatched",
        format="csv",
        status="done",
        rows_total=1,
        rows_done=1,
    )
    job.file.save("mine.csv", ContentFile(b"\xef\xbb\xbfa\r\n"), save=True)
    return job


def test_every_download_of_an_export_is_audited(client, supervisor, done_job):
    client.force_login(supervisor)
    url = reverse("cases:export_job_download", args=[done_job.pk])

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200
        b"".join(response.streaming_content)

    entries = AuditEntry.objects.filter(action="cases.export_downloaded")
    assert entries.count() == 2
    entry = entries.first()
    assert entry is not None
    assert (entry.actor, entry.target_type, entry.target_id) == (
        supervisor,
        "cases.exportjob",
        str(done_job.pk),
    )
    assert entry.data == {"list": "overdue", "filters": "status=dispatched", "format": "csv", "rows": 1}


def test_refused_and_missing_downloads_are_not_audited(client, district, supervisor, done_job):
    pending = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv")
    gone = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv", status="done")
    gone.file.name = "exports/none/missing.csv"
    gone.save()

    client.force_login(staff(Role.SUPERVISOR, scope=district))  # not the owner
    assert client.get(reverse("cases:export_job_download", args=[done_job.pk])).status_code == 404
    client.force_login(supervisor)
    for job in [pending, gone]:
        assert client.get(reverse("cases:export_job_download", args=[job.pk])).status_code == 404

    assert not AuditEntry.objects.filter(action="cases.export_downloaded").exists()


# --- 3. showing a hidden photo again ---------------------------------------------------------


@pytest.fixture
def hidden(make_case, operator, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """A registered case whose one photo an operator hid (its public copy deleted on commit)."""
    case = make_case(CaseStatus.REGISTERED, photos=[png()])
    photo = CaseAttachment.objects.get(case=case)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_attachment_hide(attachment=photo, actor=operator, reason="照片含可识别的人脸")
    photo.refresh_from_db()
    assert photo.is_hidden
    return photo


def public_path(photo: CaseAttachment) -> str:
    return os.path.join(settings.MEDIA_ROOT, photo.file.name)


def track_page(client, case: Case) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("public:track_detail", args=[case.tracking_code])).content.decode()


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_operators_and_supervisors_show_a_hidden_photo_again(
    client, hidden, district, role, django_capture_on_commit_callbacks
):
    case = hidden.case
    actor = staff(role, scope=district)
    assert not os.path.exists(public_path(hidden))
    assert hidden.file.url not in track_page(client, case)

    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        services.case_attachment_unhide(
            case=case, attachment=hidden, actor=actor, reason="人脸已打码，可公开"
        )
    # Not public before the change commits: a rollback would leave it hidden and unreachable
    assert not os.path.exists(public_path(hidden))
    for callback in on_commit:
        callback()

    photo = CaseAttachment.objects.get(pk=hidden.pk)
    assert not photo.is_hidden
    assert (photo.hidden_reason, photo.hidden_at, photo.hidden_by) == ("", None, None)
    # The file is back in public storage, out of the private one
    assert os.path.exists(public_path(photo))
    assert not private_storage().exists(photo.file.name)
    # The event (staff only) and the audit entry
    event = CaseEvent.objects.get(case=case, action=CaseAction.ATTACHMENT_UNHIDDEN)
    assert event.actor == actor and event.note == "人脸已打码，可公开" and not event.is_public
    assert event.data == {"attachment": photo.pk, "kind": photo.kind}
    assert AuditEntry.objects.filter(action="case.attachment_unhidden", target_id=str(case.pk)).exists()
    assert Case.objects.get(pk=case.pk).version == case.version + 1
    # The public page shows it again, at its media URL
    assert photo.file.url in track_page(client, case)


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.LIAISON, Role.HANDLING_UNIT, Role.COMMUNITY_STAFF])
def test_other_roles_may_not_show_a_hidden_photo(hidden, district, community, unit, role):
    scope = {Role.LIAISON: community, Role.COMMUNITY_STAFF: community, Role.HANDLING_UNIT: unit}.get(
        role, district
    )

    with pytest.raises(ActionNotPermitted):
        services.case_attachment_unhide(
            case=hidden.case, attachment=hidden, actor=staff(role, scope=scope), reason="可公开"
        )

    assert CaseAttachment.objects.get(pk=hidden.pk).is_hidden
    assert not CaseEvent.objects.filter(action=CaseAction.ATTACHMENT_UNHIDDEN).exists()


def test_an_operator_of_another_district_may_not_show_it(hidden):
    with pytest.raises(ActionNotPermitted):
        services.case_attachment_unhide(
            case=hidden.case,
            attachment=hidden,
            actor=staff(Role.OPERATOR, scope=DistrictFactory()),
            reason="可公开",
        )

    assert CaseAttachment.objects.get(pk=hidden.pk).is_hidden


def test_a_reason_a_hidden_photo_and_a_photo_of_the_case_are_needed(hidden, make_case, operator):
    other = make_case(CaseStatus.REGISTERED)
    shown = CaseAttachment.objects.get(case=make_case(CaseStatus.REGISTERED, photos=[png()]))

    cases = [
        (hidden.case, hidden, "  ", "invalid.required"),
        (other, hidden, "可公开", "invalid.attachment"),
        (shown.case, shown, "可公开", "invalid.not_hidden"),
    ]
    for case, photo, reason, code in cases:
        with pytest.raises(InvalidInput) as error:
            services.case_attachment_unhide(case=case, attachment=photo, actor=operator, reason=reason)
        assert error.value.code == code

    assert CaseAttachment.objects.get(pk=hidden.pk).is_hidden


def test_the_desk_offers_it_only_while_a_photo_is_hidden(
    client, hidden, operator, django_capture_on_commit_callbacks
):
    case = Case.objects.get(pk=hidden.case_id)
    client.force_login(operator)
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert 'data-desk-action="unhide-photo"' in page
    assert 'data-desk-action="hide-photo"' not in page  # nothing left to hide
    # The picker shows the hidden photo through the gate, not by a media URL
    assert reverse("cases:photo", args=[case.number, hidden.pk]) in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("desk:act", args=[case.number, "unhide-photo"]),
            {"expected_version": case.version, "attachment": hidden.pk, "reason": "误隐藏"},
        )

    assert response.status_code == 302
    assert not CaseAttachment.objects.get(pk=hidden.pk).is_hidden
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert 'data-desk-action="unhide-photo"' not in page
    assert 'data-desk-action="hide-photo"' in page


def test_the_desk_refuses_it_without_a_reason(client, hidden, operator):
    case = Case.objects.get(pk=hidden.case_id)
    client.force_login(operator)

    response = client.post(
        reverse("desk:act", args=[case.number, "unhide-photo"]),
        {"expected_version": case.version, "attachment": hidden.pk, "reason": ""},
    )

    assert response.status_code == 422
    assert CaseAttachment.objects.get(pk=hidden.pk).is_hidden


def test_the_api_verb(hidden, operator, district, django_capture_on_commit_callbacks):
    case = Case.objects.get(pk=hidden.case_id)
    url = f"/api/v1/cases/{case.number}/unhide-photo/"
    body = {"attachment": hidden.pk, "reason": "误隐藏", "version": case.version}

    dispatcher = as_user(staff(Role.DISPATCHER, scope=district))
    assert_error(dispatcher.post(url, body, format="json"), 403, "permission_denied")
    unknown = assert_error(
        as_user(operator).post(url, {**body, "attachment": 0}, format="json"), 400, "invalid"
    )
    assert "attachment" in unknown["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(operator).post(url, body, format="json")

    assert response.status_code == 200, response.content
    assert not CaseAttachment.objects.get(pk=hidden.pk).is_hidden
    assert os.path.exists(public_path(hidden))
    # Shown now: a second call names the field
    again = as_user(operator).post(url, {**body, "version": case.version + 1}, format="json")
    assert "attachment" in assert_error(again, 400, "invalid")["fields"]


def without_any_copy(photo: CaseAttachment) -> None:
    """Delete the photo's file wherever it is: what loads the row must not need it."""
    for storage in (photo.file.storage, private_storage()):
        if storage.exists(photo.file.name):
            storage.delete(photo.file.name)


def test_a_hidden_photo_refreshes_and_loads_without_reading_its_file(hidden):
    # Given a hidden photo whose public copy is gone; and even with no copy left at all
    assert not os.path.exists(public_path(hidden))
    without_any_copy(hidden)

    # When it is refreshed and loaded again
    hidden.refresh_from_db()
    loaded = CaseAttachment.objects.get(pk=hidden.pk)

    # Then both work and keep the size measured at upload
    assert (hidden.width, hidden.height) == (loaded.width, loaded.height) == (40, 30)
    assert hidden.is_hidden and loaded.is_hidden


def test_a_photo_shown_again_refreshes_before_and_after_its_copy_back(
    hidden, operator, django_capture_on_commit_callbacks
):
    # Given a hidden photo shown again, its copy back to public storage not yet run
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        services.case_attachment_unhide(case=hidden.case, attachment=hidden, actor=operator, reason="可公开")
    assert not os.path.exists(public_path(hidden))

    # Then it refreshes while its file is still private
    hidden.refresh_from_db()
    assert not hidden.is_hidden and (hidden.width, hidden.height) == (40, 30)

    # and after the copy back, even once the file is gone again
    for callback in on_commit:
        callback()
    assert os.path.exists(public_path(hidden))
    without_any_copy(hidden)
    hidden.refresh_from_db()
    assert (hidden.width, hidden.height) == (40, 30)


def test_a_photo_row_without_its_size_loads_without_measuring_the_file(hidden):
    # Given a row whose size was never recorded (older rows), its file moved away
    CaseAttachment.objects.filter(pk=hidden.pk).update(width=None, height=None)
    without_any_copy(hidden)

    # When it is loaded and refreshed, nothing opens the file to measure it
    loaded = CaseAttachment.objects.get(pk=hidden.pk)
    loaded.refresh_from_db()

    assert (loaded.width, loaded.height) == (None, None)


# --- 4. a new category or urgency recounts the deadlines ------------------------------------

# Seeded limits (cases/migrations/0003): 街面秩序 "01" dispatch 2 h, handle 8 h (urgent 4 h);
# 违法建设 "03" dispatch 4 h, handle 80 h; 市容环境 "02" verify 16 h, as "01" 8 h.
STREET_VENDORS = "0102"
STREET_SIBLING = "0101"
ILLEGAL_BUILDING = "0301"
PILED_RUBBISH = "0202"


def at(*moment: int) -> AbstractContextManager[None]:
    return frozen_at(aware(*moment))


@pytest.fixture
def vendors(superuser):  # type: ignore[no-untyped-def]
    """A street-vendor report made Monday 2026-03-02 at 9:00."""

    def make(code: str = STREET_VENDORS) -> Case:
        with at(2026, 3, 2, 9):
            return services.case_report(
                source="web",
                description="人行道上有流动摊贩",
                category=leaf_category(code),
                lat=30.005,
                lng=120.005,
                actor=superuser,
            )

    return make


def recategorised(case: Case) -> CaseEvent:
    return CaseEvent.objects.filter(case=case, action=CaseAction.RECATEGORISED).latest("created_at", "pk")


def test_a_new_category_recounts_the_stage_deadline_from_the_stage_start(vendors, superuser, operator):
    # Given a case registered Monday 10:00: dispatch within 2 h
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(), actor=superuser)
    assert case.deadline == aware(2026, 3, 2, 12)

    # When an operator corrects its category at 11:00 to one with 4 h to dispatch
    with at(2026, 3, 2, 11):
        case = services.case_recategorise(
            case=case, actor=operator, reason="实为违法建设", category=leaf_category(ILLEGAL_BUILDING)
        )

    # Then the deadline counts 4 working hours from the registration (across lunch)
    assert Case.objects.get(pk=case.pk).deadline == aware(2026, 3, 2, 15)
    event = recategorised(case)
    assert event.data["deadlines"] == {
        "deadline": [aware(2026, 3, 2, 12).isoformat(), aware(2026, 3, 2, 15).isoformat()]
    }
    assert event.data["changes"]["deadline"] == ["2026-03-02 12:00", "2026-03-02 15:00"]
    assert "deadline" in AuditEntry.objects.get(action="case.recategorised").data["fields"]


def test_a_new_category_recounts_the_handling_deadline(vendors, superuser, operator, unit):
    # Given a street-vendor case dispatched Monday 10:00: handle within 8 h
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
        case = services.case_sign_for(case=case, actor=superuser)
    assert case.due_at == case.deadline == aware(2026, 3, 3, 10)

    # When it turns out to be illegal building work: 80 h
    with at(2026, 3, 2, 14):
        services.case_recategorise(
            case=case, actor=operator, reason="实为违法建设", category=leaf_category(ILLEGAL_BUILDING)
        )

    # Then the handling deadline is 10 working days from the dispatch
    case = Case.objects.get(pk=case.pk)
    assert case.due_at == case.deadline == aware(2026, 3, 16, 10)
    assert set(recategorised(case).data["deadlines"]) == {"deadline", "due_at"}
    # While the case is with its handler the timeline shows the one deadline
    assert set(recategorised(case).data["changes"]) == {"category", "deadline"}


def test_a_new_urgency_recounts_the_handling_deadline(vendors, superuser, operator, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)

    with at(2026, 3, 2, 11):
        services.case_recategorise(
            case=case, actor=operator, reason="影响通行，升为紧急", urgency=Urgency.URGENT
        )

    case = Case.objects.get(pk=case.pk)
    assert case.urgency == Urgency.URGENT
    # 4 working hours from 10:00, across lunch
    assert case.due_at == case.deadline == aware(2026, 3, 2, 15)
    assert recategorised(case).data["changes"]["urgency"][1] == str(Urgency.URGENT.label)


def test_parked_time_is_kept_when_the_handling_deadline_is_recounted(vendors, superuser, operator, unit):
    # Given illegal building work dispatched Monday 2026-03-02 10:00 (80 h), parked
    # for 3 working days, then dispatched again
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(ILLEGAL_BUILDING), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    with at(2026, 3, 6, 10):
        case = services.case_park(case=case, actor=superuser, reason="等待规划部门认定")
    with at(2026, 3, 11, 10):
        case = services.case_unpark(case=case, actor=superuser)
    with at(2026, 3, 11, 11):
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.due_at == aware(2026, 3, 19, 10)

    # When it is recategorised as street vendors (8 h)
    with at(2026, 3, 11, 14):
        services.case_recategorise(
            case=case, actor=operator, reason="分类错误", category=leaf_category(STREET_VENDORS)
        )

    # Then 8 h plus the 24 h parked from the first dispatch: Friday 10:00
    case = Case.objects.get(pk=case.pk)
    assert case.due_at == case.deadline == aware(2026, 3, 6, 10)
    assert case.is_overdue(aware(2026, 3, 11, 14))


def test_a_returned_case_gets_both_deadlines_recounted(vendors, superuser, operator, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    with at(2026, 3, 2, 11):
        case = services.case_return(case=case, actor=superuser, reason="非本单位职责")
    assert (case.deadline, case.due_at) == (aware(2026, 3, 2, 14), aware(2026, 3, 3, 10))

    with at(2026, 3, 2, 11, 30):
        services.case_recategorise(
            case=case, actor=operator, reason="实为违法建设", category=leaf_category(ILLEGAL_BUILDING)
        )

    case = Case.objects.get(pk=case.pk)
    # dispatch again within 4 h of the return; handle within 80 h of the first dispatch
    assert case.deadline == aware(2026, 3, 2, 16)
    assert case.due_at == aware(2026, 3, 16, 10)
    assert set(recategorised(case).data["changes"]) == {"category", "deadline", "due_at"}


@pytest.mark.parametrize(
    "correction",
    [
        {"address": "幸福路1号"},  # not a time limit matter
        {"category": STREET_SIBLING},  # another category with the same limits
    ],
)
def test_deadlines_stay_when_the_limits_do_not_change(vendors, superuser, operator, unit, correction):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=vendors(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    if "category" in correction:
        correction = {"category": leaf_category(correction["category"])}

    with at(2026, 3, 2, 11):
        services.case_recategorise(case=case, actor=operator, reason="更正", **correction)

    after = Case.objects.get(pk=case.pk)
    assert (after.deadline, after.due_at) == (case.deadline, case.due_at)
    assert "deadlines" not in recategorised(case).data


def test_a_closed_case_keeps_its_deadlines(make_case, operator):
    case = make_case(CaseStatus.CLOSED)

    services.case_recategorise(
        case=case, actor=operator, reason="归类更正", category=leaf_category(ILLEGAL_BUILDING)
    )

    after = Case.objects.get(pk=case.pk)
    assert (after.deadline, after.due_at) == (None, case.due_at)


def test_an_unknown_urgency_is_refused(make_case, operator):
    case = make_case(CaseStatus.REGISTERED)

    with pytest.raises(InvalidInput) as error:
        services.case_recategorise(case=case, actor=operator, reason="x", urgency="whenever")

    assert error.value.code == "invalid.urgency"


def test_desk_and_api_take_the_urgency(client, make_case, operator):
    case = make_case(CaseStatus.REGISTERED)
    client.force_login(operator)

    response = client.post(
        reverse("desk:act", args=[case.number, "recategorise"]),
        {"expected_version": case.version, "urgency": Urgency.URGENT, "reason": "影响通行"},
    )
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).urgency == Urgency.URGENT

    api: Any = as_user(operator).post(
        f"/api/v1/cases/{case.number}/recategorise/",
        {"urgency": Urgency.CRITICAL, "reason": "现场危险"},
        format="json",
    )
    assert api.status_code == 200, api.content
    assert Case.objects.get(pk=case.pk).urgency == Urgency.CRITICAL
