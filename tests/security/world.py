"""The world the security tests probe: two sides of the city and one user per role.

`home` is where every staff user works (their district, community or unit);
`away` is another district no one but the administrator (city-wide) may see.
Each side holds one of every object a page or endpoint shows, made through
the services (or the factories where no service exists), so the role × URL
matrix can ask for an object inside and an object outside a user's scope.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from cases import services as case_services
from cases.choices import CaseSource, PushKind
from cases.models import Case, HotlinePush, Open311Client, ParkingRequest, ReturnVisit
from chengguan.models import User
from chengguan.roles import Role
from communities.models import Community, District, EnforcementDisclosure, Facility, HandlingUnit
from communities.services import facility_save
from inspections.models import ChecklistItem, RectificationNotice, ResponsibilityUnit
from inspections.services import ItemOutcome, inspection_record, responsibility_unit_create
from liaisons.models import CoverPeriod, Meeting, PatrolFinding, PatrolLog
from liaisons.services import FindingInput, cover_create, liaison_assign, meeting_record, patrol_log
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    GridCellFactory,
    HandlingUnitFactory,
    StreetFactory,
    UserFactory,
    leaf_category,
    staff,
)

ROLES: tuple[str, ...] = tuple(str(r) for r in Role)
ANONYMOUS = "anonymous"
USERS: tuple[str, ...] = (ANONYMOUS, *ROLES)

PHONE = "13912345678"
NAME = "李小明"


def png_upload(name: str = "photo.png", size: tuple[int, int] = (16, 16)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@dataclass
class Side:
    district: District
    community: Community
    unit: HandlingUnit
    liaison: User
    case: Case  # closed, with a photo and a scheduled return visit
    open_case: Case  # dispatched to `unit`
    reported_case: Case  # waiting at the intake desk
    visit: ReturnVisit
    patrol: PatrolLog
    finding: PatrolFinding
    meeting: Meeting
    shop: ResponsibilityUnit
    notice: RectificationNotice
    facility: Facility
    disclosure: EnforcementDisclosure
    cover: CoverPeriod
    push: HotlinePush
    parking: ParkingRequest
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    home: Side
    away: Side
    users: dict[str, User | None]
    root: User

    def side(self, scoped: bool) -> Side:
        return self.home if scoped else self.away


def _side(root: User, index: int, hotline: Open311Client, *, text: str = "") -> Side:
    lng = 120.0 + 0.1 * index
    district: Any = DistrictFactory(code=f"SEC{index}", name=f"安全区{index}")
    street: Any = StreetFactory(district=district)
    community: Any = CommunityFactory(street=street, origin=(lng, 30.0))
    cell: Any = GridCellFactory(community=community)
    unit: Any = HandlingUnitFactory(district=district)
    liaison = staff(Role.LIAISON, username=f"sec-liaison-{index}")
    liaison_assign(community=community, liaison=liaison, actor=root)
    backup = staff(Role.LIAISON, username=f"sec-backup-{index}")
    lat, lng_in = 30.005, lng + 0.005
    words = text or "小区门口有流动摊贩占道经营"

    def report(**extra: Any) -> Case:
        return case_services.case_report(
            source=CaseSource.WEB,
            actor=root,
            description=words,
            address=text or "示范路1号",
            category=leaf_category(),
            lat=lat,
            lng=lng_in,
            community=community,
            reporter_name=NAME,
            reporter_phone=PHONE,
            **extra,
        )

    case = report(photos=[png_upload()])
    case = case_services.case_register(case=case, actor=root)
    case = case_services.case_dispatch(case=case, actor=root, handling_unit=unit)
    case = case_services.case_sign_for(case=case, actor=root)
    case = case_services.case_submit_result(case=case, actor=root, result=text or "摊贩已劝离，现场已清理")
    case = case_services.case_verify(case=case, actor=root, passed=True)
    visit = ReturnVisit.objects.filter(case=case).first() or case_services.return_visit_schedule(case=case)
    assert visit is not None
    open_case = report()
    open_case = case_services.case_register(case=open_case, actor=root)
    open_case = case_services.case_dispatch(case=open_case, actor=root, handling_unit=unit)
    parking = case_services.case_request_parking(
        case=open_case, actor=root, reason=text or "涉及拆迁，暂缓处置"
    )
    reported_case = report()

    now = timezone.now()
    patrol = patrol_log(
        liaison=liaison,
        community=community,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=2),
        grid_cells=[cell],
        notes=text or "沿街巡查",
        photos=[png_upload()],
        findings=[FindingInput(description=words, category=leaf_category(), lat=lat, lng=lng_in)],
    )
    finding = patrol.findings.get()
    meeting = meeting_record(
        community=community,
        actor=liaison,
        held_at=now - timedelta(days=1),
        title=text or "季度协调会",
        attendees=text or "居委会、物业公司",
        issues=text or "沿街摊贩",
        resolutions=text or "加强巡查",
        location=text or "社区会议室",
        cases=[open_case],
    )
    shop = responsibility_unit_create(
        actor=liaison,
        community=community,
        name=text or f"示范小吃店{index}",
        address=text or "示范路2号",
        contact_name=NAME,
        contact_phone=PHONE,
    )
    item = ChecklistItem.objects.filter(is_active=True).first()
    assert item is not None, "the checklist is seeded by a data migration"
    inspection = inspection_record(
        unit=shop,
        inspector=liaison,
        outcomes=[ItemOutcome(item=item, passed=False, note=text or "门前堆物")],
        notes=text or "门前堆放杂物",
        requirements=text or "三日内清理",
    )
    notice = RectificationNotice.objects.get(inspection=inspection)
    facility, _created = facility_save(
        code=f"SEC-{index}",
        name=text or f"路灯{index}",
        kind="street_light",
        lat=lat,
        lng=lng_in,
        address=text or "示范路3号",
        actor=root,
    )
    disclosure = EnforcementDisclosure.objects.create(
        district=district,
        matters=text or "占道经营",
        legal_basis=text or "《城市市容和环境卫生管理条例》",
        process=text or "立案、调查取证",
        appeal=text or "六十日内申请行政复议",
        complaint_phone="0571-12319",
        officers=[{"name": text or "王队员", "badge": "ZF-0001"}],
    )
    cover = cover_create(
        community=community,
        backup=backup,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=3),
        reason=text or "年休假",
        actor=root,
    )
    push = HotlinePush.objects.create(
        case=case,
        client=hotline,
        action="register",
        case_status=case.status,
        payload={"service_request_id": case.number},
        status="dead",
        attempts=10,
        last_error="HTTP 502: bad gateway",
    )
    return Side(
        district=district,
        community=community,
        unit=unit,
        liaison=User.objects.get(pk=liaison.pk),
        case=Case.objects.get(pk=case.pk),
        open_case=Case.objects.get(pk=open_case.pk),
        reported_case=Case.objects.get(pk=reported_case.pk),
        visit=visit,
        patrol=patrol,
        finding=finding,
        meeting=meeting,
        shop=shop,
        notice=notice,
        facility=facility,
        disclosure=disclosure,
        cover=cover,
        push=push,
        parking=parking,
    )


def build_world(*, text: str = "") -> World:
    """Two districts with one of everything each; `text` goes into every free-text field."""
    root: Any = UserFactory(username="sec-root", is_superuser=True, is_staff=True)
    account = staff(Role.OPERATOR, username="sec-hotline")
    hotline = Open311Client.objects.create(
        name="12345 热线平台", source=CaseSource.HOTLINE_12345, account=account, push_kind=PushKind.NONE
    )
    home = _side(root, 1, hotline, text=text)
    away = _side(root, 2, hotline, text=text)
    users: dict[str, User | None] = {ANONYMOUS: None}
    users[Role.OPERATOR] = staff(Role.OPERATOR, scope=home.district, username="sec-operator")
    users[Role.DISPATCHER] = staff(Role.DISPATCHER, scope=home.district, username="sec-dispatcher")
    users[Role.SUPERVISOR] = staff(Role.SUPERVISOR, scope=home.district, username="sec-supervisor")
    users[Role.LIAISON] = home.liaison
    users[Role.COMMUNITY_STAFF] = staff(Role.COMMUNITY_STAFF, scope=home.community, username="sec-community")
    users[Role.HANDLING_UNIT] = staff(Role.HANDLING_UNIT, scope=home.unit, username="sec-unit")
    admin = staff(Role.ADMIN, scope="city", username="sec-admin")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    users[Role.ADMIN] = User.objects.get(pk=admin.pk)
    return World(home=home, away=away, users=users, root=root)
