"""Field-work pages of liaisons: home, patrol log, findings to cases, return visits, meetings.

Every page and POST is tried as anonymous, as staff without the liaison role,
as a liaison of another community of the same district, as the scoped
liaison and as the district supervisor.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services as case_services
from cases.choices import CaseSource, CaseStatus, Satisfaction, VisitStatus
from cases.models import Case, ReturnVisit
from liaisons.choices import PatrolFrequency, ScheduledPatrolStatus
from liaisons.forms import DATETIME_FORMAT
from liaisons.jobs import schedule_patrols
from liaisons.models import Meeting, PatrolFinding, PatrolLog, PatrolPlan
from liaisons.services import meeting_record
from tests.factories import CaseFactory, UserFactory, leaf_category
from tests.fieldwork import closed_case, log_patrol, not_an_image, png, query_count, zh

pytestmark = pytest.mark.django_db

CLIENT_UUID = "0b7f3c52-8d2e-4c1a-9f5e-2a6b1c3d4e5f"


def local(moment) -> str:  # type: ignore[no-untyped-def]
    return timezone.localtime(moment).strftime(DATETIME_FORMAT)


def patrol_data(community, *, findings=(), **overrides):  # type: ignore[no-untyped-def]
    """What the patrol form posts: the patrol, then the findings formset."""
    now = timezone.now()
    data = {
        "client_uuid": CLIENT_UUID,
        "community": community.pk,
        "started_at": local(now - timedelta(hours=1)),
        "ended_at": local(now),
        "notes": "沿东园街巡查一遍",
        "findings-TOTAL_FORMS": max(1, len(findings)),
        "findings-INITIAL_FORMS": 0,
        "findings-MIN_NUM_FORMS": 0,
        "findings-MAX_NUM_FORMS": 20,
    }
    for index, finding in enumerate(findings):
        for key, value in finding.items():
            data[f"findings-{index}-{key}"] = value
    data.update(overrides)
    return data


@pytest.fixture
def world(community, liaison, superuser, unit):  # type: ignore[no-untyped-def]
    """One of everything in `community`: a patrol with a finding, a due return visit, a meeting."""
    patrol = log_patrol(liaison, community, findings=1)
    case = closed_case(community, superuser, unit)
    visit = case_services.return_visit_schedule(case=case)
    meeting = meeting_record(
        community=community,
        actor=liaison,
        held_at=timezone.now() - timedelta(days=1),
        title="东园街油烟扰民协调会",
        attendees="居委会、物业公司、商户代表",
        issues="烧烤店油烟扰民",
        resolutions="一周内加装油烟净化器",
        cases=[case],
    )
    return {
        "patrol": patrol,
        "finding": patrol.findings.get(),
        "case": case,
        "visit": visit,
        "meeting": meeting,
    }


def pages(world):  # type: ignore[no-untyped-def]
    return {
        "home": reverse("liaisons:home"),
        "patrol_list": reverse("liaisons:patrol_list"),
        "patrol_new": reverse("liaisons:patrol_new"),
        "patrol_detail": reverse("liaisons:patrol_detail", args=[world["patrol"].pk]),
        "visit_list": reverse("liaisons:visit_list"),
        "visit_record": reverse("liaisons:visit_record", args=[world["visit"].pk]),
        "meeting_list": reverse("liaisons:meeting_list"),
        "meeting_new": reverse("liaisons:meeting_new"),
        "meeting_detail": reverse("liaisons:meeting_detail", args=[world["meeting"].pk]),
    }


def posts(world):  # type: ignore[no-untyped-def]
    return {
        "patrol_new": reverse("liaisons:patrol_new"),
        "finding_to_case": reverse("liaisons:finding_to_case", args=[world["finding"].pk]),
        "visit_record": reverse("liaisons:visit_record", args=[world["visit"].pk]),
        "meeting_new": reverse("liaisons:meeting_new"),
    }


# --- who gets in --------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in_from_every_page_and_post(client, world):
    for name, url in pages(world).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response.url == f"{reverse('login')}?next={url}", name
    for name, url in posts(world).items():
        response = client.post(url, {})
        assert response.status_code == 302 and response.url.startswith(reverse("login")), name
    assert PatrolLog.objects.count() == 1


def test_staff_without_the_liaison_role_are_refused(client, world, operator):
    client.force_login(operator)
    for name, url in pages(world).items():
        assert client.get(url).status_code == 403, name
    for name, url in posts(world).items():
        assert client.post(url, {}).status_code == 403, name
    assert world["finding"].case is None


def test_a_liaison_of_another_community_finds_nothing_of_this_one(client, world, outsider, community):
    client.force_login(outsider)
    urls = pages(world)
    for name in ("patrol_detail", "visit_record", "meeting_detail"):
        assert client.get(urls[name]).status_code == 404, name
    for name in ("home", "patrol_list", "visit_list", "meeting_list"):
        response = client.get(urls[name])
        assert response.status_code == 200, name
        assert world["case"].number not in response.content.decode(), name
    assert client.get(urls["patrol_list"] + "?who=all").context["page_obj"].paginator.count == 0
    assert client.get(urls["meeting_list"]).context["page_obj"].paginator.count == 0
    assert client.get(urls["visit_list"] + "?who=all").context["page_obj"].paginator.count == 0
    # Converting the finding or recording the visit is not possible either.
    assert client.post(posts(world)["finding_to_case"]).status_code == 404
    assert client.post(posts(world)["visit_record"], {"reached": "no", "channel": "phone"}).status_code == 404
    world["finding"].refresh_from_db()
    assert world["finding"].case is None


def test_a_liaison_of_another_community_cannot_log_or_meet_there(client, world, outsider, community):
    client.force_login(outsider)

    response = client.post(reverse("liaisons:patrol_new"), patrol_data(community))

    assert response.status_code == 400
    assert "community" in response.context["form"].errors
    assert not PatrolLog.objects.filter(liaison=outsider).exists()
    response = client.post(
        reverse("liaisons:meeting_new"),
        {
            "community": community.pk,
            "held_at": local(timezone.now()),
            "title": "越界会议",
            "attendees": "某某",
            "issues": "某事",
        },
    )
    assert response.status_code == 400
    assert "community" in response.context["form"].errors
    assert Meeting.objects.count() == 1


def test_the_scoped_liaison_sees_every_page(client, world, liaison):
    client.force_login(liaison)
    for name, url in pages(world).items():
        assert client.get(url).status_code == 200, name


def test_the_district_supervisor_reads_but_does_not_patrol(client, world, supervisor, community):
    client.force_login(supervisor)
    urls = pages(world)
    for name in (
        "home",
        "patrol_list",
        "patrol_detail",
        "visit_list",
        "visit_record",
        "meeting_list",
        "meeting_detail",
    ):
        assert client.get(urls[name]).status_code == 200, name
    assert world["case"].number in client.get(urls["visit_list"]).content.decode()  # "all in my area"
    assert client.get(urls["patrol_new"]).status_code == 403
    assert client.post(urls["patrol_new"], patrol_data(community)).status_code == 403
    detail = client.get(urls["patrol_detail"]).content.decode()
    assert reverse("liaisons:finding_to_case", args=[world["finding"].pk]) not in detail
    # A forged conversion is refused with a message, not an error page.
    response = client.post(posts(world)["finding_to_case"], follow=True)
    assert response.status_code == 200
    world["finding"].refresh_from_db()
    assert world["finding"].case is None
    assert [str(m) for m in response.context["messages"]]


# --- home ---------------------------------------------------------------------------------------


def test_home_shows_communities_patrols_cases_visits_and_notices(client, world, liaison, community):
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.DAILY)
    schedule_patrols(days=7)
    open_case = CaseFactory(community=community, status=CaseStatus.REGISTERED)
    client.force_login(liaison)

    response = client.get(reverse("liaisons:home"))

    home = response.context["home"]
    assert [p.community for p in home.postings] == [community]
    assert home.patrols and all(p.community == community for p in home.patrols)
    today = timezone.localdate()
    assert any(p.due_date == today and p.status == ScheduledPatrolStatus.DUE for p in home.patrols)
    assert open_case in home.cases
    assert [v.case for v in home.visits] == [world["case"]]
    page = response.content.decode()
    assert community.name in page and open_case.number in page and world["case"].number in page


def test_home_costs_the_same_queries_with_more_data(
    django_assert_max_num_queries, client, world, liaison, community, superuser, unit
):
    client.force_login(liaison)
    url = reverse("liaisons:home")
    few = query_count(client, url)
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.TWICE_DAILY)
    schedule_patrols(days=7)
    for _ in range(12):
        CaseFactory(community=community)
    for _ in range(3):
        case_services.return_visit_schedule(case=closed_case(community, superuser, unit))
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


# --- logging a patrol -------------------------------------------------------------------------------


def test_the_form_starts_an_hour_ago_and_ends_now_in_the_liaisons_community(
    client, liaison, community, cells
):
    client.force_login(liaison)

    response = client.get(reverse("liaisons:patrol_new"))

    form = response.context["form"]
    assert form["community"].value() == community.pk
    started, ended = form.initial["started_at"], form.initial["ended_at"]
    assert ended - started == timedelta(hours=1)
    assert abs((ended - timezone.now()).total_seconds()) < 120
    assert len(form.initial["client_uuid"]) == 36
    page = response.content.decode()
    assert f'data-community="{community.pk}"' in page  # grid cells know their community
    assert 'id="finding-template"' in page and "js/patrol.js" in page


def test_logging_a_patrol_with_photos_and_findings(client, liaison, community, cells):
    client.force_login(liaison)
    data = patrol_data(
        community,
        grid_cells=[cells[0].pk],
        photos=[png("a.png"), png("b.png")],
        findings=[
            {
                "description": "东园街口有流动摊贩",
                "category": leaf_category().pk,
                "lat": "30.005",
                "lng": "120.005",
                "address": "东园街12号",
                "photos": [png("f.png")],
            },
            {"description": "门口堆放纸箱", "fixed_on_spot": "on", "result": "已督促店主当场清理"},
        ],
    )

    response = client.post(reverse("liaisons:patrol_new"), data)

    patrol = PatrolLog.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("liaisons:patrol_detail", args=[patrol.pk])
    assert patrol.client_uuid == CLIENT_UUID and patrol.liaison == liaison
    assert list(patrol.grid_cells.all()) == [cells[0]]
    assert patrol.photos.filter(finding__isnull=True).count() == 2
    first, second = patrol.findings.order_by("pk")
    assert first.photos.count() == 1 and first.lat == 30.005 and first.case is None
    assert second.fixed_on_spot and second.case.status == CaseStatus.CLOSED and second.case.closed_on_spot
    assert second.case.source == CaseSource.PATROL


def test_a_replayed_draft_logs_one_patrol(client, liaison, community):
    client.force_login(liaison)
    data = patrol_data(
        community, findings=[{"description": "门口堆放纸箱", "fixed_on_spot": "on", "result": "当场清理"}]
    )

    first = client.post(reverse("liaisons:patrol_new"), data)
    again = client.post(
        reverse("liaisons:patrol_new"), patrol_data(community, findings=[{"description": "x"}])
    )

    assert first.status_code == again.status_code == 302
    assert first.url == again.url
    assert PatrolLog.objects.count() == 1
    assert Case.objects.filter(source=CaseSource.PATROL).count() == 1


def test_an_end_before_the_start_is_refused_in_chinese_and_the_draft_is_kept(client, liaison, community):
    client.force_login(liaison)
    now = timezone.now()
    data = patrol_data(
        community,
        started_at=local(now),
        ended_at=local(now - timedelta(hours=1)),
        findings=[{"description": "井盖缺失"}],
    )

    response = client.post(reverse("liaisons:patrol_new"), data)

    assert response.status_code == 400
    page = response.content.decode()
    error = zh("The patrol must end after it starts.")
    assert error in page
    assert re.search("[\u4e00-\u9fff]", error), "the message is not translated yet"
    assert "沿东园街巡查一遍" in page and "井盖缺失" in page and CLIENT_UUID in page
    assert 'data-bound="1"' in page
    assert not PatrolLog.objects.exists()


def test_more_than_six_photos_are_refused(client, liaison, community):
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:patrol_new"), patrol_data(community, photos=[png(f"{n}.png") for n in range(7)])
    )

    assert response.status_code == 400
    assert "一次最多上传 6 张照片。" in response.content.decode()
    assert "沿东园街巡查一遍" in response.content.decode()
    assert not PatrolLog.objects.exists()


def test_a_file_that_is_not_a_photo_is_refused(client, liaison, community):
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:patrol_new"),
        patrol_data(community, findings=[{"description": "井盖缺失", "photos": [not_an_image("notes.png")]}]),
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "notes.png 不是 JPEG、PNG 或 WebP 格式的照片。" in page
    assert "井盖缺失" in page
    assert not PatrolLog.objects.exists()


def test_a_finding_fixed_on_the_spot_needs_what_was_done(client, liaison, community):
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:patrol_new"),
        patrol_data(community, findings=[{"description": "门口堆放纸箱", "fixed_on_spot": "on"}]),
    )

    assert response.status_code == 400
    assert zh("Say what was done on the spot.") in response.content.decode()
    assert not PatrolLog.objects.exists()


def test_without_javascript_add_a_finding_shows_the_draft_again_with_one_more(client, liaison, community):
    client.force_login(liaison)
    data = patrol_data(community, findings=[{"description": "井盖缺失"}], add_finding="1")

    response = client.post(reverse("liaisons:patrol_new"), data)

    assert response.status_code == 200
    findings = response.context["findings"]
    assert len(findings.forms) == 2
    assert findings.management_form["TOTAL_FORMS"].value() == 2
    assert findings.management_form["INITIAL_FORMS"].value() == 0
    page = response.content.decode()
    assert "井盖缺失" in page and "沿东园街巡查一遍" in page and CLIENT_UUID in page
    assert 'class="errorlist' not in page
    assert not PatrolLog.objects.exists()


def test_a_liaison_not_posted_anywhere_is_told_so(client, db):
    from chengguan.roles import Role
    from tests.factories import staff

    client.force_login(staff(Role.LIAISON))

    response = client.get(reverse("liaisons:patrol_new"))

    assert response.status_code == 200
    assert not response.context["has_communities"]
    assert 'id="patrol-form"' not in response.content.decode()


# --- patrol list and detail ------------------------------------------------------------------------


def test_the_patrol_list_filters_by_community_liaison_and_date(
    client, liaison, outsider, community, other_community, supervisor
):
    mine = log_patrol(liaison, community)
    theirs = log_patrol(outsider, other_community)
    client.force_login(supervisor)
    url = reverse("liaisons:patrol_list")

    def listed(query: str = "") -> list[int]:
        return [p.pk for p in client.get(f"{url}?{query}").context["page_obj"].object_list]

    assert set(listed()) == {mine.pk, theirs.pk}
    assert listed(f"community={community.pk}") == [mine.pk]
    assert listed(f"liaison={outsider.pk}") == [theirs.pk]
    today = timezone.localdate()
    assert set(listed(f"date_after={today:%Y-%m-%d}")) == {mine.pk, theirs.pk}
    assert listed(f"date_before={today - timedelta(days=1):%Y-%m-%d}") == []


def test_the_patrol_list_costs_the_same_queries_for_more_patrols(
    django_assert_max_num_queries, client, liaison, community
):
    log_patrol(liaison, community)
    client.force_login(liaison)
    url = reverse("liaisons:patrol_list")
    few = query_count(client, url)
    for hours in range(3, 33):
        log_patrol(liaison, community, findings=2, hours_ago=hours, photos=[png()] if hours < 6 else [])
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200
    assert client.get(url).context["page_obj"].paginator.num_pages == 2


def test_a_finding_becomes_a_case_in_one_tap(client, world, liaison):
    client.force_login(liaison)
    detail = client.get(reverse("liaisons:patrol_detail", args=[world["patrol"].pk])).content.decode()
    convert = reverse("liaisons:finding_to_case", args=[world["finding"].pk])
    assert convert in detail

    response = client.post(convert)

    finding = PatrolFinding.objects.get(pk=world["finding"].pk)
    assert finding.case is not None
    assert response.status_code == 302 and response.url == reverse("cases:detail", args=[finding.case.number])
    assert finding.case.source == CaseSource.PATROL and finding.case.lat == 30.005
    # A second tap files nothing more and explains why.
    again = client.post(convert, follow=True)
    assert again.status_code == 200
    assert zh("This finding is already a case.") in again.content.decode()
    assert Case.objects.filter(source=CaseSource.PATROL).count() == 1


def test_a_finding_to_case_needs_a_post(client, world, liaison):
    client.force_login(liaison)
    assert client.get(reverse("liaisons:finding_to_case", args=[world["finding"].pk])).status_code == 405


# --- return visits -----------------------------------------------------------------------------------


def test_the_visit_list_shows_my_scheduled_visits_then_recent_ones(
    client, world, liaison, community, superuser, unit
):
    done = case_services.return_visit_schedule(
        case=closed_case(community, superuser, unit, phone="13900001111")
    )
    case_services.return_visit_record(
        visit=done, actor=liaison, reached=True, satisfaction=Satisfaction.SATISFIED
    )
    client.force_login(liaison)

    response = client.get(reverse("liaisons:visit_list"))

    visits = list(response.context["page_obj"].object_list)
    assert visits == [world["visit"], done]
    page = response.content.decode()
    assert "13812345678" in page  # liaisons may call the reporter
    assert reverse("liaisons:visit_record", args=[world["visit"].pk]) in page


def test_the_visit_list_costs_the_same_queries_for_more_visits(
    django_assert_max_num_queries, client, world, liaison, community, superuser, unit
):
    client.force_login(liaison)
    url = reverse("liaisons:visit_list")
    few = query_count(client, url)
    for n in range(6):
        case_services.return_visit_schedule(
            case=closed_case(community, superuser, unit, phone=f"1390000{n:04d}")
        )
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


def test_the_reporters_phone_is_masked_for_those_who_may_not_see_it(client, world, community):
    from django.contrib.auth.models import Permission
    from guardian.shortcuts import assign_perm

    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_case", "view_returnvisit"], content_type__app_label="cases"
        )
    )
    assign_perm("communities.work_in_community", reader, community)
    client.force_login(reader)

    listing = client.get(reverse("liaisons:visit_list") + "?who=all").content.decode()
    detail = client.get(reverse("liaisons:visit_record", args=[world["visit"].pk])).content.decode()

    for page in (listing, detail):
        assert "13812345678" not in page
        assert "138****5678" in page


def test_recording_a_satisfied_visit(client, world, liaison):
    client.force_login(liaison)
    url = reverse("liaisons:visit_record", args=[world["visit"].pk])

    response = client.post(
        url, {"reached": "yes", "channel": "phone", "satisfaction": "satisfied", "comment": "很满意"}
    )

    assert response.status_code == 302 and response.url == reverse("liaisons:visit_list")
    visit = ReturnVisit.objects.get(pk=world["visit"].pk)
    assert visit.status == VisitStatus.DONE and visit.satisfaction == Satisfaction.SATISFIED
    assert visit.visited_by == liaison
    # Recorded visits show their result and take no second answer.
    page = client.get(url)
    assert page.context["form"] is None
    client.post(url, {"reached": "no", "channel": "phone"})
    visit.refresh_from_db()
    assert visit.satisfaction == Satisfaction.SATISFIED


def test_an_unsatisfied_reporter_can_have_the_case_reopened(client, world, liaison):
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:visit_record", args=[world["visit"].pk]),
        {
            "reached": "yes",
            "channel": "visit",
            "satisfaction": "unsatisfied",
            "comment": "晚上又来了",
            "reopen": "on",
        },
    )

    assert response.status_code == 302
    case = Case.objects.get(pk=world["case"].pk)
    assert case.status == CaseStatus.DISPATCHED and case.reopen_count == 1


def test_reopening_is_only_for_unsatisfied_reporters(client, world, liaison):
    client.force_login(liaison)
    url = reverse("liaisons:visit_record", args=[world["visit"].pk])

    response = client.post(
        url, {"reached": "yes", "channel": "phone", "satisfaction": "basically", "reopen": "on"}
    )
    assert response.status_code == 400
    assert zh("Only an unsatisfied reporter's case is reopened.") in response.content.decode()

    response = client.post(url, {"reached": "yes", "channel": "phone"})
    assert response.status_code == 400
    assert zh("Choose how satisfied the reporter is.") in response.content.decode()
    assert ReturnVisit.objects.get(pk=world["visit"].pk).status == VisitStatus.SCHEDULED
    assert Case.objects.get(pk=world["case"].pk).status == CaseStatus.CLOSED


def test_a_reporter_not_reached(client, world, liaison):
    client.force_login(liaison)

    client.post(
        reverse("liaisons:visit_record", args=[world["visit"].pk]),
        {"reached": "no", "channel": "phone", "satisfaction": "unsatisfied", "reopen": "on"},
    )

    visit = ReturnVisit.objects.get(pk=world["visit"].pk)
    assert visit.status == VisitStatus.UNREACHABLE and not visit.reopened and visit.satisfaction == ""


# --- meetings --------------------------------------------------------------------------------------


def test_recording_a_meeting_links_cases_by_number(client, world, liaison, community):
    other = CaseFactory(community=community)
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:meeting_new"),
        {
            "community": community.pk,
            "held_at": local(timezone.now()),
            "title": "东园街月度例会",
            "location": "社区会议室",
            "attendees": "居委会、物业",
            "issues": "占道经营反复",
            "resolutions": "联合整治",
            "case_numbers": f"{world['case'].number}，{other.number.lower()}",
        },
    )

    meeting = Meeting.objects.get(title="东园街月度例会")
    assert response.status_code == 302 and response.url == reverse(
        "liaisons:meeting_detail", args=[meeting.pk]
    )
    assert set(meeting.cases.all()) == {world["case"], other}
    assert meeting.recorded_by == liaison


def test_a_case_outside_the_area_cannot_be_linked(client, world, liaison, other_community):
    foreign = CaseFactory(community=other_community)
    client.force_login(liaison)

    response = client.post(
        reverse("liaisons:meeting_new"),
        {
            "community": world["meeting"].community_id,
            "held_at": local(timezone.now()),
            "title": "例会",
            "attendees": "居委会",
            "issues": "占道经营",
            "case_numbers": f"{foreign.number} CG-NOPE",
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert foreign.number in page and "CG-NOPE" in page
    assert Meeting.objects.count() == 1


def test_the_minutes_print_cleanly(client, world, liaison):
    client.force_login(liaison)

    page = client.get(reverse("liaisons:meeting_detail", args=[world["meeting"].pk])).content.decode()

    assert "css/field.css" in page and "data-print" in page and 'class="fw-paper"' in page
    assert world["case"].number in page and "一周内加装油烟净化器" in page


def test_the_meeting_list_filters_and_costs_the_same_queries(
    django_assert_max_num_queries, client, world, liaison, community
):
    client.force_login(liaison)
    url = reverse("liaisons:meeting_list")
    few = query_count(client, url)
    for n in range(30):
        meeting_record(
            community=community,
            actor=liaison,
            held_at=timezone.now() - timedelta(days=n + 2),
            title=f"例会{n}",
            attendees="居委会",
            issues="垃圾分类",
            cases=[world["case"]],
        )
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200
    found = client.get(url + "?q=油烟").context["page_obj"].object_list
    assert list(found) == [world["meeting"]]
