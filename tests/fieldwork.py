"""Fixtures and helpers shared by the field-work page tests (liaisons, inspections, browser).

Import the fixtures into a test module to use them. The world: `community`
and `other_community` lie in the same district; `liaison` works in
`community`, `outsider` in `other_community`; `supervisor` oversees the
district; `operator` is staff without the liaison role.
"""

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext, override
from PIL import Image

from cases import services as case_services
from cases.choices import CaseSource
from cases.models import Case
from chengguan.roles import Role
from liaisons.models import PatrolLog
from liaisons.services import FindingInput, liaison_assign, patrol_log
from tests.factories import GridCellFactory, UserFactory, leaf_category, staff


def zh(message: str) -> str:
    """The message as a Chinese-speaking user sees it on a page (HTML-escaped).

    Messages not yet in the catalogue show their English msgid until the
    translations are compiled; the test holds either way.
    """
    with override("zh-hans"):
        return escape(gettext(message))


def png(name: str = "photo.png", size: tuple[int, int] = (16, 16)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def not_an_image(name: str = "notes.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"this is not a picture", content_type="image/png")


def query_count(client: Any, url: str) -> int:
    """The queries one page view costs; with the data grown, pin it with django_assert_max_num_queries."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def posted(community: Any, superuser: Any, username: str) -> Any:
    person = staff(Role.LIAISON, username=username)
    liaison_assign(community=community, liaison=person, actor=superuser)
    return type(person).objects.get(pk=person.pk)


@pytest.fixture
def liaison(community, superuser):  # type: ignore[no-untyped-def]
    return posted(community, superuser, "liaison")


@pytest.fixture
def outsider(other_community, superuser):  # type: ignore[no-untyped-def]
    return posted(other_community, superuser, "outsider")


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district, username="supervisor")


@pytest.fixture
def operator(district):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=district, username="operator")


@pytest.fixture
def cells(community):  # type: ignore[no-untyped-def]
    return [GridCellFactory(community=community, name=f"东园网格{n}") for n in (1, 2)]


def log_patrol(
    liaison: Any, community: Any, *, findings: int = 1, hours_ago: int = 2, **kwargs: Any
) -> PatrolLog:
    now = timezone.now()
    return patrol_log(
        liaison=liaison,
        community=community,
        started_at=now - timedelta(hours=hours_ago),
        ended_at=now - timedelta(hours=hours_ago - 1),
        notes=kwargs.pop("notes", "沿街巡查"),
        findings=[
            FindingInput(description=f"路口有流动摊贩 {n}", category=leaf_category(), lat=30.005, lng=120.005)
            for n in range(findings)
        ],
        **kwargs,
    )


def closed_case(community: Any, superuser: Any, unit: Any, *, phone: str = "13812345678") -> Case:
    """A case reported by a resident in `community`, handled and closed through the services."""
    case = case_services.case_report(
        source=CaseSource.WEB,
        actor=superuser,
        description="小区门口有流动摊贩占道经营",
        category=leaf_category(),
        lat=30.005,
        lng=120.005,
        community=community,
        reporter_name="张三",
        reporter_phone=phone,
    )
    case = case_services.case_register(case=case, actor=superuser)
    case = case_services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    case = case_services.case_sign_for(case=case, actor=superuser)
    case = case_services.case_submit_result(case=case, actor=superuser, result="摊贩已劝离，现场已清理")
    case = case_services.case_verify(case=case, actor=superuser, passed=True)
    return Case.objects.get(pk=case.pk)
