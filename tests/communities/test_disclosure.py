"""执法信息公开: a district's enforcement disclosure, edited in the admin, public with a results summary."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseStatus
from cases.models import Category
from communities.models import EnforcementDisclosure
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def disclosure(district):  # type: ignore[no-untyped-def]
    return EnforcementDisclosure.objects.create(
        district=district,
        matters="占道经营\n违法建设",
        legal_basis="《城市市容和环境卫生管理条例》\n《城乡规划法》",
        process="立案、调查取证、告知、决定、送达、执行",
        appeal="对处罚决定不服的，可在六十日内申请行政复议。",
        complaint_phone="0571-12319",
        officers=[{"name": "王队员", "badge": "ZF-0001"}],
    )


def test_anyone_reads_the_disclosure_with_the_last_12_months(
    client, disclosure, community, django_assert_max_num_queries
):
    now = timezone.now()
    vending, posters = Category.objects.get(code="0102"), Category.objects.get(code="9001")
    CaseFactory(
        community=community, category=vending, status=CaseStatus.CLOSED, reported_at=now - timedelta(days=10)
    )
    CaseFactory(
        community=community, category=vending, status=CaseStatus.CLOSED, reported_at=now - timedelta(days=40)
    )
    CaseFactory(
        community=community, category=vending, status=CaseStatus.REJECTED, reported_at=now - timedelta(days=5)
    )
    CaseFactory(
        community=community,
        category=vending,
        status=CaseStatus.CLOSED,
        false_report=True,
        reported_at=now - timedelta(days=3),
    )
    CaseFactory(
        community=community,
        category=posters,
        status=CaseStatus.DISPATCHED,
        reported_at=now - timedelta(days=1),
    )
    CaseFactory(
        community=community, category=posters, status=CaseStatus.CLOSED, reported_at=now - timedelta(days=400)
    )

    with django_assert_max_num_queries(4):
        response = client.get(reverse("communities:disclosure", args=[disclosure.district.code]))

    assert response.status_code == 200
    rows = {row.category: row for row in response.context["results"]}
    assert (
        rows["流动摊贩"].total,
        rows["流动摊贩"].closed,
        rows["流动摊贩"].rejected,
        rows["流动摊贩"].false_reports,
    ) == (
        4,
        3,
        1,
        1,
    )
    assert (rows["井盖"].total, rows["井盖"].open) == (1, 1)  # the case of 400 days ago is left out
    page = response.content.decode()
    assert "ZF-0001" in page and "0571-12319" in page and "违法建设" in page and "行政复议" in page


def test_an_unpublished_or_missing_disclosure_is_not_found(client, disclosure, district):
    EnforcementDisclosure.objects.filter(pk=disclosure.pk).update(is_published=False)
    assert client.get(reverse("communities:disclosure", args=[district.code])).status_code == 404
    assert client.get(reverse("communities:disclosure", args=["NOPE"])).status_code == 404


def test_admin_edits_officers_one_a_line(client, district):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    data = {
        "district": district.pk,
        "matters": "占道经营",
        "legal_basis": "条例",
        "process": "流程",
        "appeal": "复议",
        "complaint_phone": "12319",
        "officers_text": "王队员, ZF-0001\n李 队员 ZF-0002\n",
        "is_published": "on",
    }
    response = client.post(reverse("admin:communities_enforcementdisclosure_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = EnforcementDisclosure.objects.get()
    assert saved.officers == [{"name": "王队员", "badge": "ZF-0001"}, {"name": "李 队员", "badge": "ZF-0002"}]
    response = client.post(
        reverse("admin:communities_enforcementdisclosure_change", args=[saved.pk]),
        {**data, "officers_text": "只有名字"},
    )
    assert (
        response.status_code == 200 and "Line 1" in response.content.decode()
    ) or "第" in response.content.decode()
    saved.refresh_from_db()
    assert len(saved.officers) == 2
