"""Demo data: one district with streets, communities, grid cells, handling units,
staff in every role, liaisons posted to every community, and a few hundred cases;
then per community its facilities (QR service codes), a weekly patrol plan with
the patrols of the past weeks, and 门前三包 shops with agreements and inspections,
plus the district's enforcement disclosure.

    manage.py seed_demo [--if-empty] [--cases 520] [--seed 42]

Cases are created and moved only through cases.services. Each case's history is
planned first (which steps, how many working hours apart), then every step of
every case is replayed in time order at its moment in the past
(chengguan.clock.frozen_at). So case numbers, deadlines, counters and event
histories are exactly what the live system would have produced, and merging a
duplicate or deciding an extension sees the other case as it was then.

Random but deterministic: the same --seed gives the same data (apart from
tracking codes, which the service draws from `secrets`).
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from cases import services
from cases.choices import OPEN_STATUSES, CaseSource, CaseStatus, RejectReason, Satisfaction, Urgency
from cases.deadlines import stage_limit
from cases.management.commands import _demo_data as data
from cases.models import Case, Category, ExtensionRequest
from chengguan import clock
from chengguan.errors import DomainError
from chengguan.models import User
from chengguan.roles import Role
from chengguan.services import user_create_staff, user_set_scope
from chengguan.worktime import WorkCalendar, get_calendar
from communities.choices import UnitKind
from communities.models import Community, District, EnforcementDisclosure, GridCell, HandlingUnit, Street
from communities.services import facility_save
from inspections.choices import ChecklistGroup
from inspections.models import Agreement, ChecklistItem
from inspections.services import ItemOutcome, inspection_record, responsibility_unit_create
from liaisons import jobs as liaison_jobs
from liaisons.choices import AssignmentRole, PatrolFrequency
from liaisons.models import PatrolPlan
from liaisons.services import FindingInput, liaison_assign, patrol_log, patrol_plan_save, patrol_plan_schedule

DEMO_PASSWORD = "Demo@2026"
HISTORY_DAYS = 90
# Weeks of patrols before this one under each community's weekly patrol plan.
PATROL_WEEKS = 5

ROLE_LABELS = {
    Role.ADMIN: "系统管理员",
    Role.OPERATOR: "受理员",
    Role.DISPATCHER: "派遣员",
    Role.SUPERVISOR: "督查",
    Role.LIAISON: "社区联络员",
    Role.COMMUNITY_STAFF: "社区工作人员",
    Role.HANDLING_UNIT: "处置单位",
    "resident": "居民",
}

# Where each case ends up (its status now), with its weight among all cases.
TARGETS = {
    "closed": 50,
    "in_progress": 10,
    "dispatched": 7,
    "resolved": 6,
    "registered": 5,
    "reported": 4,
    "rejected": 6,
    "merged": 6,
    "parked": 4,
    "closed_reopened": 2,
}
OPEN_TARGETS = {"reported", "registered", "dispatched", "in_progress", "resolved"}
# The stage whose time limit runs in each open status that reached it recently.
RECENT_STAGE = {
    "registered": "dispatch",
    "dispatched": "handle",
    "in_progress": "handle",
    "resolved": "verify",
}

SOURCES = {
    CaseSource.WEB: 20,
    CaseSource.QR_CODE: 8,
    CaseSource.HOTLINE_12345: 22,
    CaseSource.HOTLINE_12319: 12,
    CaseSource.WALK_IN: 4,
    CaseSource.PATROL: 18,
    CaseSource.COMMUNITY: 8,
    CaseSource.LEADERSHIP: 2,
    CaseSource.MEDIA: 2,
    CaseSource.VOLUNTEER: 4,
}
# Sources whose report an operator types in from a call, a visit or a referral.
OPERATOR_SOURCES = {
    CaseSource.HOTLINE_12345,
    CaseSource.HOTLINE_12319,
    CaseSource.WALK_IN,
    CaseSource.LEADERSHIP,
    CaseSource.MEDIA,
    CaseSource.VOLUNTEER,
}

CATEGORY_WEIGHTS = {
    "0101": 12, "0102": 10, "0103": 9, "0104": 6, "0105": 2,
    "0201": 9, "0202": 8, "0203": 5, "0204": 4, "0205": 2, "0206": 2, "0207": 2,
    "0301": 4, "0401": 5, "0402": 5, "0501": 2, "0601": 3,
    "9001": 2, "9002": 4, "9003": 2, "9004": 1, "9005": 1, "9006": 2, "9901": 1,
}  # fmt: skip

SHOPS = ["便利店", "水果店", "早餐店", "烧烤店", "五金店", "理发店", "小吃店", "药店", "面馆", "超市"]


# --- the plan of one case ------------------------------------------------------


@dataclass
class Step:
    kind: str
    gap_hours: float  # working hours after the previous step
    params: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass
class Handler:
    unit: HandlingUnit | None
    person: User  # who signs for and handles it


@dataclass
class Plan:
    index: int
    target: str
    source: CaseSource
    category: Category  # what the case is
    reported_category: Category | None  # what the reporter chose (None: unsure)
    urgency: str
    community: Community
    lat: float | None
    lng: float | None
    address: str
    description: str
    title: str
    reporter: dict[str, Any]
    steps: list[Step]
    reported_at: datetime
    master: Plan | None = None
    case: Case | None = None
    handler: Handler | None = None
    extension: ExtensionRequest | None = None

    def end_of_openness(self, now: datetime) -> datetime:
        """When the case first stops being open (or now, if it never does)."""
        for step in self.steps:
            if step.kind in ("verify_pass", "reject", "merge"):
                assert step.at is not None
                return step.at
        return now


@dataclass
class Staff:
    admin: User
    operators: list[User]
    dispatchers: list[User]
    supervisors: list[User]
    residents: list[User]
    liaison: dict[int, User]  # community id -> responsible liaison
    community_staff: dict[int, User]  # community id -> staff member
    unit_staff: dict[int, User]  # unit id -> staff member


class Command(BaseCommand):
    help = "Fill an empty database with a demo district, its staff and a few hundred cases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing (successfully) when any district exists."
        )
        parser.add_argument("--cases", type=int, default=520, help="Number of cases to create (default 520).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password of every demo account.")

    def handle(self, *args: Any, **options: Any) -> None:
        if District.objects.exists():
            if options["if_empty"]:
                self.stdout.write("The database already has districts; seed_demo did nothing.")
                return
            raise CommandError(
                "The database already has districts; seed_demo fills an empty database "
                "(use --if-empty to skip quietly)."
            )
        if options["cases"] < 0:
            raise CommandError("--cases must not be negative.")

        from chengguan.celery import app

        # Services notify through Celery on commit; run those tasks in-process
        # so no broker is needed and the in-app notifications exist.
        was_eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        # One "task succeeded" log line per case event would bury the summary.
        trace_log = logging.getLogger("celery.app.trace")
        trace_level = trace_log.level
        trace_log.setLevel(logging.WARNING)
        try:
            seeder = DemoSeeder(
                rng=random.Random(options["seed"]),
                now=clock.now().replace(second=0, microsecond=0),
                password=options["password"],
                write=self.stdout.write,
            )
            with transaction.atomic():
                seeder.run(case_count=options["cases"])
        finally:
            app.conf.task_always_eager = was_eager
            trace_log.setLevel(trace_level)
        self._report(seeder, options["password"])

    def _report(self, seeder: DemoSeeder, password: str) -> None:
        out = self.stdout.write
        out("")
        out(self.style.MIGRATE_HEADING(f"Demo logins (password for every account: {password})"))
        rows = [("username", "name", "role", "scope"), *seeder.logins]
        widths = [max(_width(row[i]) for row in rows) for i in range(4)]
        for number, row in enumerate(rows):
            out(
                "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row))
                + f"  {password if number else 'password'}"
            )
        out("")
        out(self.style.MIGRATE_HEADING("Cases by status"))
        counts = dict(Case.objects.values_list("status").annotate(n=Count("id")))
        for status in CaseStatus:
            out(f"  {_pad(status.value, 12)} {counts.get(status.value, 0):5d}")
        now = clock.now()
        overdue = Case.objects.filter(status__in=OPEN_STATUSES, deadline__lt=now).count()
        out(f"  {_pad('total', 12)} {sum(counts.values()):5d}   (open and overdue now: {overdue})")
        out(self.style.SUCCESS("Demo data ready."))


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _rectangle(lng: float, lat: float, width: float, height: float) -> dict[str, Any]:
    lng2, lat2 = round(lng + width, 6), round(lat + height, 6)
    lng, lat = round(lng, 6), round(lat, 6)
    return {
        "type": "Polygon",
        "coordinates": [[[lng, lat], [lng2, lat], [lng2, lat2], [lng, lat2], [lng, lat]]],
    }


class DemoSeeder:
    def __init__(
        self, *, rng: random.Random, now: datetime, password: str, write: Callable[[str], Any]
    ) -> None:
        self.rng = rng
        self.now = now
        self.password = password
        self.write = write
        self.calendar: WorkCalendar = get_calendar()
        self.history_start = now - timedelta(days=HISTORY_DAYS)
        self.used_names: set[str] = set()
        self.logins: list[tuple[str, str, str, str]] = []  # username, name, role, scope
        self.unit_categories: dict[int, set[str]] = {}
        # community id -> (roads, residential compounds, landmarks), for addresses
        self.places: dict[int, tuple[list[str], list[str], list[str]]] = {}

    # --- geography, units and staff -----------------------------------------

    def run(self, *, case_count: int) -> None:
        # Everything that exists before the first case is dated before it.
        with clock.frozen_at(self.history_start - timedelta(days=30)):
            self.district, self.communities = self._build_geography()
            self.units, self.squads = self._build_units()
            self.staff = self._build_staff()
        self.categories = {c.code: c for c in Category.objects.filter(parent__isnull=False, is_active=True)}
        self.grid_cells: dict[int, list[GridCell]] = {}
        for cell in GridCell.objects.filter(community__in=self.communities):
            self.grid_cells.setdefault(cell.community_id, []).append(cell)
        plans = self._plan_cases(case_count)
        self._replay(plans)
        with clock.frozen_at(self.now):
            escalated = services.escalate_overdue()
        self.write(f"Replayed {len(plans)} cases; {escalated} overdue case(s) escalated automatically.")
        self._build_field_work()

    def _save(self, obj: Any, boundary: dict[str, Any] | None = None) -> Any:
        if boundary is not None:
            obj.set_boundary(boundary)
        obj.full_clean()
        obj.save()
        return obj

    def _build_geography(self) -> tuple[District, list[Community]]:
        rng = self.rng
        streets_wide = len(data.STREETS)
        district = self._save(
            District(city=data.CITY, **data.DISTRICT),
            _rectangle(
                data.ORIGIN_LNG,
                data.ORIGIN_LAT,
                2 * data.COMMUNITY_WIDTH * streets_wide,
                2 * data.COMMUNITY_HEIGHT,
            ),
        )
        communities = []
        for s, (street_name, community_rows) in enumerate(data.STREETS):
            street_lng = data.ORIGIN_LNG + s * 2 * data.COMMUNITY_WIDTH
            street = self._save(
                Street(code=f"{district.code}{s + 1:03d}", name=street_name, district=district),
                _rectangle(street_lng, data.ORIGIN_LAT, 2 * data.COMMUNITY_WIDTH, 2 * data.COMMUNITY_HEIGHT),
            )
            for c, (name, kind, roads, compounds, landmarks) in enumerate(community_rows):
                lng = street_lng + (c % 2) * data.COMMUNITY_WIDTH
                lat = data.ORIGIN_LAT + (c // 2) * data.COMMUNITY_HEIGHT
                community = self._save(
                    Community(
                        code=f"{street.code}{c + 1:03d}",
                        name=name,
                        street=street,
                        kind=kind,
                        address=f"{roads[0]}{rng.randint(2, 180)}号",
                        phone=f"0571-8{rng.randint(1000000, 9999999)}",
                    ),
                    _rectangle(lng, lat, data.COMMUNITY_WIDTH, data.COMMUNITY_HEIGHT),
                )
                self.places[community.pk] = (roads, compounds, landmarks)
                communities.append(community)
                for g, grid_name in enumerate(data.GRID_NAMES):
                    width, height = data.COMMUNITY_WIDTH / 2, data.COMMUNITY_HEIGHT / 2
                    self._save(
                        GridCell(code=f"{community.code}{g + 1:02d}", name=grid_name, community=community),
                        _rectangle(lng + (g % 2) * width, lat + (g // 2) * height, width, height),
                    )
        return district, communities

    def _build_units(self) -> tuple[list[HandlingUnit], dict[int, HandlingUnit]]:
        categories = {c.code: c for c in Category.objects.all()}
        units = []
        for suffix, name, kind, codes, phone in data.HANDLING_UNITS:
            unit = self._save(
                HandlingUnit(
                    code=f"{self.district.code}-{suffix}",
                    name=name,
                    kind=kind,
                    district=self.district,
                    contact_phone=phone,
                )
            )
            unit.categories.set([categories[code] for code in codes])
            self.unit_categories[unit.pk] = set(codes)
            units.append(unit)
        squads = {}
        for number, street in enumerate(
            Street.objects.filter(district=self.district).order_by("code"), start=1
        ):
            squad = self._save(
                HandlingUnit(
                    code=f"{self.district.code}-ZD{number}",
                    name=f"{street.name}城管中队",
                    kind=UnitKind.STREET_OFFICE,
                    district=self.district,
                    contact_phone=f"0571-8602{number:04d}",
                )
            )
            squad.categories.set([categories[code] for code in data.STREET_SQUAD_CATEGORIES])
            self.unit_categories[squad.pk] = set(data.STREET_SQUAD_CATEGORIES)
            units.append(squad)
            squads[street.pk] = squad
        return units, squads

    def _person_name(self) -> str:
        while True:
            name = self.rng.choice(data.SURNAMES) + self.rng.choice(data.GIVEN_NAMES)
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def _phone(self) -> str:
        return f"1{self.rng.choice('3578')}{self.rng.randint(0, 9)}{self.rng.randint(10000000, 99999999)}"

    def _user(self, username: str, role: str, scope_label: str, name: str = "") -> User:
        name = name or self._person_name()
        roles = [] if role == "resident" else [role]
        # PBKDF2 takes a third of a second per account and every demo account
        # has the same password: hash it once, and let the service create the
        # account without a usable password (None hashes nothing).
        user = user_create_staff(
            username=username,
            password=None,  # type: ignore[arg-type]
            name=name,
            roles=roles,
            phone=self._phone(),
        )
        User.objects.filter(pk=user.pk).update(password=self.password_hash)
        user.password = self.password_hash
        self.logins.append((username, name, ROLE_LABELS[role], scope_label))
        return user

    def _build_staff(self) -> Staff:
        self.password_hash = make_password(self.password)
        district = self.district
        district_label = f"{district.city}{district.name}"
        admin = self._user("admin", Role.ADMIN, "全市（超级用户）", name="系统管理员")
        admin.is_superuser = True
        admin.save(update_fields=["is_superuser"])
        staff = Staff(admin, [], [], [], [], {}, {}, {})

        for role, attr, count in (
            (Role.OPERATOR, "operators", 2),
            (Role.DISPATCHER, "dispatchers", 2),
            (Role.SUPERVISOR, "supervisors", 2),
        ):
            for number in range(1, count + 1):
                user = self._user(f"{role}{number}", role, district_label)
                user_set_scope(user=user, target=district)
                getattr(staff, attr).append(user)

        for number, community in enumerate(self.communities, start=1):
            road, road2 = self.places[community.pk][0][:2]
            liaison = self._user(f"liaison{number:02d}", Role.LIAISON, community.name)
            liaison_assign(
                community=community,
                liaison=liaison,
                actor=staff.admin,
                duties=data.LIAISON_DUTIES.format(community=community.name, road=road, road2=road2),
            )
            staff.liaison[community.pk] = liaison
        # AB角: each liaison backs up the next community of the same street.
        for community in self.communities:
            same_street = [c for c in self.communities if c.street_id == community.street_id]
            neighbour = same_street[(same_street.index(community) + 1) % len(same_street)]
            liaison_assign(
                community=community,
                liaison=staff.liaison[neighbour.pk],
                actor=staff.admin,
                role=AssignmentRole.BACKUP,
                duties=f"{neighbour.name}联络员请假或有紧急任务时，代为负责{community.name}的巡查和案件处置。",
            )

        for number, community in enumerate(self.communities, start=1):
            user = self._user(f"community{number:02d}", Role.COMMUNITY_STAFF, community.name)
            user_set_scope(user=user, target=community)
            staff.community_staff[community.pk] = user

        for unit in self.units:
            username = "unit_" + unit.code.rsplit("-", 1)[1].lower()
            user = self._user(username, Role.HANDLING_UNIT, unit.name)
            user_set_scope(user=user, target=unit)
            staff.unit_staff[unit.pk] = user

        for number in (1, 2):
            staff.residents.append(self._user(f"resident{number}", "resident", "（无，市民账号）"))
        return staff

    # --- field work: facilities, disclosure, patrols, 门前三包 shops -----------

    def _build_field_work(self) -> None:
        """What liaisons and the admin keep besides cases, through the same services."""
        with clock.frozen_at(self.history_start - timedelta(days=30)):
            self._save(
                EnforcementDisclosure(
                    district=self.district,
                    complaint_phone=self.district.complaint_phone,
                    officers=[
                        {"name": self._person_name(), "badge": f"ZF-{self.district.code}-{number:03d}"}
                        for number in range(1, 5)
                    ],
                    **data.DISCLOSURE,
                )
            )
            facilities = sum(self._build_facilities(community) for community in self.communities)
        patrols = sum(self._build_patrols(community) for community in self.communities)
        with clock.frozen_at(self.now):
            # The nightly job would have flagged the weeks nobody patrolled.
            missed = liaison_jobs.flag_missed_patrols()
        items = list(ChecklistItem.objects.filter(is_active=True).order_by("sort_order"))
        shops = sum(self._build_shops(community, items) for community in self.communities)
        self.write(
            f"Field work: {facilities} facilities, {patrols} patrols logged ({missed} missed), "
            f"{shops} shops with agreements and inspections."
        )

    def _build_facilities(self, community: Community) -> int:
        """One or two facilities with QR service codes (城市服务码) on the community's roads."""
        rng = self.rng
        roads = self.places[community.pk][0]
        kinds = rng.sample(sorted(data.FACILITIES), rng.randint(1, 2))
        for number, kind in enumerate(kinds, start=1):
            name, prefix = data.FACILITIES[kind]
            road, house = rng.choice(roads), rng.randint(1, 260)
            lat, lng = self._point_in(rng.choice(self.grid_cells[community.pk]))
            facility_save(
                code=f"{community.code}-{prefix}{number:02d}",
                name=f"{road}{name}{number}号",
                kind=kind,
                lat=round(lat, 6),
                lng=round(lng, 6),
                address=f"{road}{house}号旁",
                community=community,
                actor=self.staff.admin,
            )
        return len(kinds)

    def _at(self, day: date, hour: float) -> datetime:
        """A local moment of `day`, `hour` hours after midnight."""
        midnight = timezone.make_aware(datetime.combine(day, time.min))
        return midnight + timedelta(minutes=round(hour * 60))

    def _build_patrols(self, community: Community) -> int:
        """A weekly plan started PATROL_WEEKS weeks ago, and the patrols logged since."""
        rng, today = self.rng, timezone.localtime(self.now).date()
        liaison = self.staff.liaison[community.pk]
        first_monday = today - timedelta(days=today.weekday() + 7 * PATROL_WEEKS)
        weekday = rng.randint(0, 4)
        with clock.frozen_at(self._at(first_monday, 8.5)):
            plan = patrol_plan_save(
                plan=PatrolPlan(
                    community=community,
                    frequency=PatrolFrequency.WEEKLY,
                    preferred_weekday=weekday,
                    notes=rng.choice(data.PATROL_PLAN_NOTES),
                ),
                actor=self.staff.admin,
            )
        # The daily job has kept scheduling since (liaisons.jobs.schedule_patrols).
        patrol_plan_schedule(plan=plan, start=first_monday, days=(today - first_monday).days + 14)
        logged = 0
        for week in range(PATROL_WEEKS + 1):
            if rng.random() < 0.12:
                continue  # a week nobody patrolled: flagged as missed
            offset = min(6, max(0, weekday + rng.choice([-1, 0, 0, 1])))  # a day early or late at times
            day = first_monday + timedelta(days=7 * week + offset)
            started_at = self._at(day, rng.uniform(9, 15))
            ended_at = started_at + timedelta(minutes=rng.randint(50, 150))
            submitted_at = ended_at + timedelta(minutes=rng.randint(5, 90))
            if submitted_at >= self.now:
                continue  # this week's patrol is still to come
            cells = self.grid_cells[community.pk]
            findings = []
            if rng.random() < 0.3:
                lat, lng, address, _spot = self._pick_place(community)
                category = self.categories[rng.choice(sorted(data.LIAISON_CATEGORIES))]
                findings.append(
                    FindingInput(
                        description=rng.choice(data.DESCRIPTIONS[category.code]).format(place=address),
                        category=category,
                        address=address,
                        lat=lat,
                        lng=lng,
                    )
                )
            with clock.frozen_at(submitted_at):
                patrol_log(
                    liaison=liaison,
                    community=community,
                    started_at=started_at,
                    ended_at=ended_at,
                    grid_cells=rng.sample(cells, rng.randint(1, len(cells))),
                    notes=rng.choice(data.PATROL_NOTES),
                    findings=findings,
                )
            logged += 1
        return logged

    def _build_shops(self, community: Community, items: list[ChecklistItem]) -> int:
        """Two or three shops with a current 门前三包 agreement and one inspection each.

        The latest inspection in each community failed, so a rectification
        notice (整改通知书) is running now.
        """
        rng, today = self.rng, timezone.localtime(self.now).date()
        liaison = self.staff.liaison[community.pk]
        roads = self.places[community.pk][0]
        trades = rng.sample(SHOPS, rng.randint(2, 3))
        # Items that allow at least two working days, so the notice is still running.
        fixable = [item for item in items if item.rectify_days >= 2 and item.group != ChecklistGroup.FUMES]
        for number, trade in enumerate(trades):
            registered = self._at(today - timedelta(days=rng.randint(100, 300)), rng.uniform(9, 16))
            cell = rng.choice(self.grid_cells[community.pk])
            lat, lng = self._point_in(cell)
            owner = self._person_name()
            with clock.frozen_at(registered):
                unit = responsibility_unit_create(
                    actor=liaison,
                    community=community,
                    name=f"{rng.choice(data.SHOP_PREFIXES)}{trade}",
                    address=f"{rng.choice(roads)}{rng.randint(1, 260)}号",
                    grid_cell=cell,
                    lat=round(lat, 6),
                    lng=round(lng, 6),
                    contact_name=owner,
                    contact_phone=self._phone(),
                    licence_number=f"92330{rng.randint(10**12, 10**13 - 1)}",
                )
            signed_on = timezone.localtime(registered).date()
            self._save(
                Agreement(
                    unit=unit,
                    number=f"MQSB-{signed_on:%Y}-{unit.pk:05d}",
                    starts_on=signed_on,
                    ends_on=signed_on + timedelta(days=364),
                    signed_on=signed_on,
                    signed_by=owner,
                    duties=data.AGREEMENT_DUTIES,
                )
            )
            kitchen = trade in data.FOOD_SHOPS
            checked = [item for item in items if kitchen or item.group != ChecklistGroup.FUMES]
            fails = number == len(trades) - 1
            failed = rng.choice(fixable) if fails else None
            if fails:
                inspected_at = self._at(today - timedelta(days=1), rng.uniform(9, 16))
            else:
                inspected_at = self._at(today - timedelta(days=rng.randint(5, 40)), rng.uniform(9, 16))
            with clock.frozen_at(inspected_at):
                inspection_record(
                    unit=unit,
                    inspector=liaison,
                    outcomes=[
                        ItemOutcome(
                            item=item,
                            passed=item != failed,
                            note=rng.choice(data.FAILED_ITEM_NOTES) if item == failed else "",
                        )
                        for item in checked
                    ],
                    notes="" if fails else rng.choice(data.INSPECTION_NOTES),
                )
        return len(trades)

    # --- planning ---------------------------------------------------------------

    def _plan_cases(self, count: int) -> list[Plan]:
        rng = self.rng
        # The first cases cover every outcome, so even a small run shows them all.
        targets = list(TARGETS)[:count]
        names, weights = list(TARGETS), list(TARGETS.values())
        targets += rng.choices(names, weights, k=max(0, count - len(targets)))
        plans = [self._plan(index, target) for index, target in enumerate(targets) if target != "merged"]
        for index, target in enumerate(targets):
            if target == "merged":
                plans.append(self._plan_duplicate(index, plans))
        plans.sort(key=lambda p: p.index)
        return plans

    def _pick_place(self, community: Community) -> tuple[float, float, str, str]:
        """A point inside the community, its address, and the road or place a title names."""
        rng = self.rng
        lat, lng = self._point_in(rng.choice(self.grid_cells[community.pk]))
        roads, compounds, landmarks = self.places[community.pk]
        road, road2 = rng.sample(roads, 2)
        compound, landmark = rng.choice(compounds), rng.choice(landmarks)
        spot, address = rng.choice(
            [
                (road, f"{road}{rng.randint(1, 260)}号门口"),
                (road, f"{road}{rng.randint(1, 260)}号{rng.choice(SHOPS)}门前"),
                (road, f"{road}与{road2}交叉口"),
                (compound, f"{compound}{rng.randint(1, 28)}幢{rng.randint(1, 4)}单元楼下"),
                (compound, f"{compound}{rng.choice('东南西北')}门"),
                (landmark, f"{landmark}附近"),
                (road, f"{road}公交站旁"),
            ]
        )
        return round(lat, 6), round(lng, 6), address, spot

    def _point_in(self, cell: GridCell) -> tuple[float, float]:
        assert cell.min_lat is not None and cell.max_lat is not None
        assert cell.min_lng is not None and cell.max_lng is not None
        # Keep clear of the edges so the point is plainly inside its cell.
        lat = self.rng.uniform(cell.min_lat + 0.0005, cell.max_lat - 0.0005)
        lng = self.rng.uniform(cell.min_lng + 0.0005, cell.max_lng - 0.0005)
        return lat, lng

    def _reporter(self, source: CaseSource, community: Community) -> dict[str, Any]:
        rng = self.rng
        if source == CaseSource.PATROL:
            return {"actor": self.staff.liaison[community.pk]}
        if source == CaseSource.COMMUNITY:
            actor = self.staff.community_staff[community.pk]
            return {
                "actor": actor,
                "reporter_name": f"{community.name} {actor.name}",
                "reporter_phone": community.phone,
            }
        if source in (CaseSource.WEB, CaseSource.QR_CODE) and rng.random() < 0.15:
            resident = rng.choice(self.staff.residents)
            return {
                "actor": resident,
                "reporter": resident,
                "reporter_name": resident.name,
                "reporter_phone": resident.phone,
            }
        reporter = {"reporter_name": self._person_name(), "reporter_phone": self._phone()}
        if source in (CaseSource.WEB, CaseSource.QR_CODE):
            return {"actor": None, "is_anonymous": rng.random() < 0.3, **reporter}
        if source == CaseSource.MEDIA:
            return {
                "actor": None,
                "reporter_name": rng.choice(["示范日报", "城市频道《民生直通车》", "示范发布"]),
            }
        return {"actor": None, **reporter}  # the operator is filled in at replay

    def _plan(self, index: int, target: str) -> Plan:
        rng = self.rng
        community = rng.choice(self.communities)
        category = self.categories[rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]]
        source = rng.choices(list(SOURCES), list(SOURCES.values()))[0]
        urgency = rng.choices(
            [category.default_urgency, Urgency.URGENT, Urgency.CRITICAL],
            [88, 10, 2 if category.code[:2] == "90" else 0],
        )[0]
        # A resident often does not know the category; the operator sets it.
        reported_category = (
            None if source in (CaseSource.WEB, CaseSource.QR_CODE) and rng.random() < 0.3 else category
        )
        point_lat, point_lng, address, spot = self._pick_place(community)
        lat: float | None = point_lat
        lng: float | None = point_lng
        if source not in (CaseSource.WEB, CaseSource.QR_CODE, CaseSource.PATROL) and rng.random() < 0.3:
            # A phone call without a map point: the operator picks the community.
            lat = lng = None
        description = rng.choice(data.DESCRIPTIONS[category.code]).format(place=address)
        plan = Plan(
            index=index,
            target=target,
            source=source,
            category=category,
            reported_category=reported_category,
            urgency=urgency,
            community=community,
            lat=lat,
            lng=lng,
            address=address,
            description=description,
            title=f"{spot}{category.name.split('/')[0]}"[:100],
            reporter=self._reporter(source, community),
            steps=self._steps(target, category, urgency, community),
            reported_at=self._reported_at(target),
        )
        if target in RECENT_STAGE and rng.random() < 0.75:
            # A case still on its way arrived at its current stage recently,
            # within that stage's time limit; the rest have stalled (overdue).
            limit = stage_limit(category, urgency, RECENT_STAGE[target]).total_seconds() / 3600
            self._schedule_back_from(plan, self._working_time_before(self.now, rng.uniform(0.1, 0.8) * limit))
        else:
            self._schedule(plan)
        return plan

    def _reported_at(self, target: str) -> datetime:
        rng = self.rng
        if target == "reported":
            # Reports keep coming in evenings and weekends, when nobody registers them.
            days = rng.uniform(0.02, 1.2) if rng.random() < 0.8 else rng.uniform(3, 10)
        elif target in OPEN_TARGETS:
            days = rng.uniform(5, 30)  # stalled; recent ones are rescheduled in _plan
        elif target == "parked":
            days = rng.uniform(10, 80)
        else:
            days = rng.uniform(4, HISTORY_DAYS - 2)
        moment = timezone.localtime(self.now - timedelta(days=days))
        # Reports come in from early morning to late evening.
        hour = rng.choices(
            range(24), [0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 5, 6, 7, 7, 6, 6, 5, 5, 4, 3, 1, 1]
        )[0]
        return moment.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59), microsecond=0)

    def _working_time_before(self, moment: datetime, hours: float) -> datetime:
        """The moment `hours` of working time before `moment` (WorkCalendar.add in reverse)."""
        moment = timezone.localtime(moment)
        remaining = timedelta(hours=hours)
        tz = timezone.get_current_timezone()
        for offset in range(3 * 366):
            day = moment.date() - timedelta(days=offset)
            if not self.calendar.is_workday(day):
                continue
            for start, end in reversed(self.calendar.periods):
                period_start = timezone.make_aware(datetime.combine(day, start), tz)
                segment_end = min(moment, timezone.make_aware(datetime.combine(day, end), tz))
                if segment_end <= period_start:
                    continue
                if remaining <= segment_end - period_start:
                    return segment_end - remaining
                remaining -= segment_end - period_start
        raise RuntimeError("no working time in three years")

    def _schedule_back_from(self, plan: Plan, last: datetime) -> None:
        """Give every step its moment so that the last step happens at `last`."""
        moment = last.replace(microsecond=0)
        for step, following in zip(reversed(plan.steps[:-1]), reversed(plan.steps[1:]), strict=True):
            following.at = moment
            moment = self._working_time_before(moment, following.gap_hours)
            step.at = moment
        plan.steps[-1].at = last.replace(microsecond=0)
        plan.reported_at = plan.steps[0].at or last

    def _schedule(self, plan: Plan) -> None:
        """Give every step its moment; move the report back until the last step is past."""
        latest = self.now - timedelta(minutes=10)
        while True:
            moment = plan.reported_at
            plan.steps[0].at = moment
            for step in plan.steps[1:]:
                moment = self.calendar.add(moment, timedelta(hours=step.gap_hours))
                step.at = moment
            if moment <= latest:
                return
            plan.reported_at -= (moment - latest) + timedelta(hours=self.rng.uniform(1, 12))

    def _handler_for(self, category: Category, community: Community, *, wrong: bool = False) -> Handler:
        """Who a dispatcher would send the case to; `wrong` picks a unit it is not for."""
        rng = self.rng
        squad = self.squads[community.street_id]
        units = [u for u in self.units if category.code in self.unit_categories[u.pk]]
        # Street squads serve their own street only.
        units = [u for u in units if u.kind != UnitKind.STREET_OFFICE or u.pk == squad.pk] or [squad]
        if wrong:
            others = [
                u
                for u in self.units
                if u not in units and (u.kind != UnitKind.STREET_OFFICE or u.pk == squad.pk)
            ]
            unit = rng.choice(others)
            return Handler(unit=unit, person=self.staff.unit_staff[unit.pk])
        if category.code in data.LIAISON_CATEGORIES and rng.random() < 0.5:
            return Handler(unit=None, person=self.staff.liaison[community.pk])
        unit = rng.choice(units)
        return Handler(unit=unit, person=self.staff.unit_staff[unit.pk])

    def _steps(self, target: str, category: Category, urgency: str, community: Community) -> list[Step]:
        rng = self.rng
        limit = stage_limit(category, urgency, "handle").total_seconds() / 3600
        steps = [Step("report", 0)]

        def add(kind: str, low: float, high: float, **params: Any) -> None:
            # Whole minutes keep the replayed timestamps tidy.
            steps.append(Step(kind, max(1, round(rng.uniform(low, high) * 60)) / 60, params))

        def register() -> None:
            add("register", 0.1, 1.5)

        def dispatch(wrong: bool = False) -> None:
            add("dispatch", 0.1, 1.5, handler=self._handler_for(category, community, wrong=wrong))

        def handle(*, late: bool = False, extension: str | None = None) -> None:
            """Sign for, maybe ask for more time, and report the result."""
            add("sign", 0.2, 3)
            spent = 0.0
            if extension:
                add("extension", 0.3 * limit, 0.6 * limit, days=rng.randint(2, 5))
                spent = steps[-1].gap_hours
                if extension in ("approve", "refuse"):
                    add("decide", 0.5, 4, approve=extension == "approve")
                    spent += steps[-1].gap_hours
            if late:
                # Past the deadline a supervisor chases it (督办) before the result comes.
                add("escalate", max(0.1, 1.03 * limit - spent), max(0.2, 1.08 * limit - spent))
                spent += steps[-1].gap_hours
                add("submit", 0.1 * limit, 0.6 * limit)
            else:
                add("submit", max(0.1, 0.15 * limit), max(0.2, 0.9 * limit - spent))

        def verify(*, rework: bool = False) -> None:
            if rework:
                add("verify_fail", 0.5, 8)
                add("sign", 0.2, 3)
                add("submit", 0.1 * limit, 0.5 * limit)
            add("verify_pass", 0.5, 8)

        def full_handling() -> None:
            register()
            if rng.random() < 0.08:
                dispatch(wrong=True)
                add("return", 0.3, 3)
            dispatch()
            roll = rng.random()
            extension = None if roll > 0.12 else ("approve" if roll < 0.08 else "refuse")
            handle(late=rng.random() < 0.15, extension=extension)
            verify(rework=rng.random() < 0.12)

        if target == "reported":
            pass
        elif target == "rejected":
            reason = rng.choice([RejectReason.INVALID, RejectReason.INSUFFICIENT, RejectReason.OUT_OF_AREA])
            add("reject", 0.1, 2, reason=reason, note=rng.choice(data.REJECT_NOTES[reason.value]))
        elif target == "registered":
            register()
            roll = rng.random()
            if roll < 0.2:  # returned by the wrong unit, waiting for a new dispatch
                dispatch(wrong=True)
                add("return", 0.3, 3)
            elif roll < 0.35:  # taken off the parked list, waiting for dispatch
                add("park", 1, 8)
                add("unpark", 40, 120)
        elif target == "dispatched":
            register()
            roll = rng.random()
            if roll < 0.2:
                dispatch(wrong=True)
                add("return", 0.3, 3)
                dispatch()
            elif roll < 0.4:  # failed verification: back with the handler
                dispatch()
                handle()
                add("verify_fail", 0.5, 8)
            else:
                dispatch()
        elif target == "in_progress":
            register()
            dispatch()
            add("sign", 0.2, 3)
            roll = rng.random()
            if roll < 0.15:  # waiting for a supervisor to decide on more time
                add("extension", 0.2 * limit, 0.5 * limit, days=rng.randint(2, 5))
            elif roll < 0.25:
                add("extension", 0.2 * limit, 0.5 * limit, days=rng.randint(2, 5))
                add("decide", 0.5, 4, approve=True)
        elif target == "resolved":
            register()
            dispatch()
            handle(late=rng.random() < 0.2)
            if rng.random() < 0.2:
                add("verify_fail", 0.5, 8)
                add("sign", 0.2, 3)
                add("submit", 0.1 * limit, 0.5 * limit)
        elif target == "parked":
            register()
            if rng.random() < 0.5:
                dispatch()
                if rng.random() < 0.5:
                    add("sign", 0.2, 3)
            add("park", 1, 16)
        elif target == "closed":
            if rng.random() < 0.05:  # parked for a while, then handled
                register()
                add("park", 1, 8)
                add("unpark", 40, 120)
                dispatch()
                handle()
                verify()
            else:
                full_handling()
            if rng.random() < 0.6:  # the reporter rates it on the tracking page
                satisfaction = rng.choices(list(Satisfaction), weights=[70, 20, 10])[0]
                add("rate", 1, 24, satisfaction=satisfaction)
        elif target == "closed_reopened":
            # Closed, rated unsatisfied by the reporter, reopened after the
            # return visit (回访), closed again.
            full_handling()
            add("rate", 1, 8, satisfaction=Satisfaction.UNSATISFIED)
            add("reopen", 8, 32)
            handle()
            verify()
        else:  # pragma: no cover - TARGETS and this switch are kept in step
            raise ValueError(target)
        return steps

    def _plan_duplicate(self, index: int, plans: list[Plan]) -> Plan:
        """A second report of a problem already reported, merged into the first."""
        rng = self.rng
        candidates = [p for p in plans if p.target not in ("rejected", "merged")]
        rng.shuffle(candidates)
        for master in candidates:
            start, end = master.reported_at, master.end_of_openness(self.now)
            reported_at = start + timedelta(hours=rng.uniform(0.5, 48))
            if reported_at >= end:
                continue
            merge_at = self.calendar.add(reported_at, timedelta(hours=rng.uniform(0.1, 1.5)))
            if merge_at >= min(end, self.now - timedelta(minutes=10)):
                continue
            source = rng.choice([CaseSource.HOTLINE_12345, CaseSource.HOTLINE_12319, CaseSource.WEB])
            merge = Step("merge", 0, {}, at=merge_at)
            return Plan(
                index=index,
                target="merged",
                source=source,
                category=master.category,
                reported_category=master.category if source != CaseSource.WEB else None,
                urgency=master.urgency,
                community=master.community,
                lat=master.lat,
                lng=master.lng,
                address=master.address,
                description=rng.choice(data.DUPLICATE_PREFIXES) + master.description,
                title=master.title,
                reporter=self._reporter(source, master.community),
                steps=[Step("report", 0, at=reported_at), merge],
                reported_at=reported_at,
                master=master,
            )
        # No case was open long enough: make it a plain rejection instead.
        return self._plan(index, "rejected")

    # --- replay -----------------------------------------------------------------

    def _replay(self, plans: list[Plan]) -> None:
        queue: list[tuple[datetime, int, int]] = []
        for plan in plans:
            for number, step in enumerate(plan.steps):
                assert step.at is not None
                queue.append((step.at, plan.index, number))
        heapq.heapify(queue)
        by_index = {plan.index: plan for plan in plans}
        while queue:
            at, index, number = heapq.heappop(queue)
            plan, step = by_index[index], by_index[index].steps[number]
            try:
                with clock.frozen_at(at):
                    self._perform(plan, step)
            except DomainError as exc:
                raise CommandError(
                    f"Case plan {plan.index} ({plan.target}), step {number} “{step.kind}” "
                    f"at {at:%Y-%m-%d %H:%M}: the service refused it ({exc.code}: {exc})"
                ) from exc

    def _perform(self, plan: Plan, step: Step) -> None:
        rng, staff = self.rng, self.staff
        operator = rng.choice(staff.operators)
        dispatcher = rng.choice(staff.dispatchers)
        supervisor = rng.choice(staff.supervisors)
        kind, params = step.kind, step.params
        if kind == "report":
            reporter = dict(plan.reporter)
            actor = reporter.pop("actor", None)
            if actor is None and plan.source in OPERATOR_SOURCES:
                actor = operator
            located = plan.lat is not None
            plan.case = services.case_report(
                source=plan.source,
                description=plan.description,
                actor=actor,
                category=plan.reported_category,
                urgency=plan.urgency if plan.reported_category else None,
                title=plan.title,
                lat=plan.lat,
                lng=plan.lng,
                address=plan.address,
                community=None if located else plan.community,
                **reporter,
            )
            if located and plan.case.community_id != plan.community.pk:
                raise CommandError(f"Point {plan.lat},{plan.lng} was not routed to {plan.community}.")
            return
        case = plan.case
        assert case is not None
        if kind == "register":
            plan.case = services.case_register(
                case=case,
                actor=operator,
                category=plan.category if case.category_id is None else None,
                urgency=plan.urgency if case.category_id is None else None,
                note=rng.choice(data.REGISTER_NOTES),
            )
        elif kind == "reject":
            plan.case = services.case_reject(
                case=case, actor=operator, reason=params["reason"], note=params["note"]
            )
        elif kind == "merge":
            assert plan.master is not None and plan.master.case is not None
            plan.case = services.case_merge_duplicate(case=case, master=plan.master.case, actor=operator)
        elif kind == "dispatch":
            handler: Handler = params["handler"]
            plan.handler = handler
            plan.case = services.case_dispatch(
                case=case,
                actor=dispatcher,
                handling_unit=handler.unit,
                assignee=None if handler.unit else handler.person,
                note=rng.choice(data.DISPATCH_NOTES),
            )
        elif kind == "return":
            plan.case = services.case_return(
                case=case, actor=self._handler(plan), reason=rng.choice(data.RETURN_REASONS)
            )
        elif kind == "sign":
            plan.case = services.case_sign_for(case=case, actor=self._handler(plan))
        elif kind == "extension":
            case.refresh_from_db(fields=["due_at"])
            assert case.due_at is not None
            plan.extension = services.case_request_extension(
                case=case,
                actor=self._handler(plan),
                requested_due_at=self.calendar.add_days(case.due_at, params["days"]),
                reason=rng.choice(data.EXTENSION_REASONS),
            )
        elif kind == "decide":
            assert plan.extension is not None
            notes = data.EXTENSION_APPROVE_NOTES if params["approve"] else data.EXTENSION_REFUSE_NOTES
            services.case_decide_extension(
                request=plan.extension, actor=supervisor, approve=params["approve"], note=rng.choice(notes)
            )
        elif kind == "escalate":
            services.case_escalate(case=case, actor=supervisor, note=rng.choice(data.ESCALATE_NOTES))
        elif kind == "submit":
            results = data.RESULTS.get(plan.category.code, [data.GENERIC_RESULT])
            plan.case = services.case_submit_result(
                case=case, actor=self._handler(plan), result=rng.choice(results)
            )
        elif kind == "verify_pass":
            plan.case = services.case_verify(
                case=case, actor=supervisor, passed=True, note=rng.choice(data.VERIFY_NOTES)
            )
        elif kind == "verify_fail":
            plan.case = services.case_verify(
                case=case, actor=supervisor, passed=False, note=rng.choice(data.REWORK_NOTES)
            )
        elif kind == "park":
            plan.case = services.case_park(case=case, actor=supervisor, reason=rng.choice(data.PARK_REASONS))
        elif kind == "unpark":
            plan.case = services.case_unpark(case=case, actor=supervisor, note=rng.choice(data.UNPARK_NOTES))
        elif kind == "rate":
            services.case_rate(
                case=case,
                satisfaction=params["satisfaction"],
                comment=rng.choice(data.RATING_COMMENTS[params["satisfaction"].value]),
            )
        elif kind == "reopen":
            # The liaison's return visit (回访) found the resident unsatisfied.
            plan.case = services.case_reopen(
                case=case, actor=staff.liaison[plan.community.pk], reason=rng.choice(data.REOPEN_REASONS)
            )
        else:  # pragma: no cover
            raise ValueError(kind)

    def _handler(self, plan: Plan) -> User:
        assert plan.handler is not None
        return plan.handler.person
