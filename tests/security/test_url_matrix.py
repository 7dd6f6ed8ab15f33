"""Role × URL matrix: every page and API endpoint, every role, inside and outside scope.

The URLs come from the resolver (tests/security/routes.py), so a URL added
anywhere fails `test_every_url_has_a_matrix_entry` until it is declared
here with the answer each user must get. Objects belong to the `home` side
(the user's area) or the `away` side (another district): outside the scope
an object simply does not exist, 404, for every role but the city-wide
administrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from chengguan.roles import Role
from tests.security.routes import ADMIN, ARGS, CAPTCHA, route_keys, url_for
from tests.security.world import ANONYMOUS, ROLES, USERS, World, build_world

pytestmark = pytest.mark.django_db

LOGIN = "login"  # 302 to the sign-in page
OK = "ok"  # passed the gate: 200, a redirect elsewhere than sign-in, or a validation answer
OK_CODES = {200, 201, 302, 400, 409, 422}

OP, DI, LI, CS, HU, SU, AD = (
    Role.OPERATOR,
    Role.DISPATCHER,
    Role.LIAISON,
    Role.COMMUNITY_STAFF,
    Role.HANDLING_UNIT,
    Role.SUPERVISOR,
    Role.ADMIN,
)
ALL = tuple(Role)
FIELD = (LI, SU, AD)


@dataclass(frozen=True)
class Entry:
    """What each user gets from one URL.

    scoped: role -> answer for an object in the user's area (or no object).
    public: the URL is not scoped (same answer for both sides).
    owned: the object belongs to a person; anyone else's is 404, the administrator's too.
    """

    method: str
    anonymous: Any
    scoped: dict[str, Any]
    public: bool = False
    owned: bool = False
    unscoped_override: dict[str, Any] = field(default_factory=dict)

    def expect(self, user: str, scoped: bool) -> Any:
        if user == ANONYMOUS:
            return self.anonymous
        answer = self.scoped[user]
        if scoped or self.public:
            return answer
        if user in self.unscoped_override:
            return self.unscoped_override[user]
        if user == AD and not self.owned:  # city-wide
            return answer
        if self.anonymous == 401:
            # The API looks the object up in the caller's scope first.
            return 404
        # Pages refuse a role before looking anything up (403), else 404.
        return 404 if answer in (200, OK, "302") else answer


def everyone(answer: Any, method: str = "get") -> Entry:
    return Entry(method, answer, dict.fromkeys(ALL, answer), public=True)


def staff(
    allowed: tuple[str, ...] = ALL,
    *,
    answer: Any = 200,
    denied: Any = 403,
    method: str = "get",
    anonymous: Any = LOGIN,
    **kwargs: Any,
) -> Entry:
    scoped: dict[str, Any] = {str(role): (answer if role in allowed else denied) for role in ALL}
    return Entry(method, anonymous, scoped, **kwargs)


def api(
    allowed: tuple[str, ...] = ALL, *, answer: Any = 200, denied: Any = 404, method: str = "get"
) -> Entry:
    return staff(allowed, answer=answer, denied=denied, method=method, anonymous=401)


def api_verb(allowed: tuple[str, ...] = ALL) -> Entry:
    return api(allowed, answer=OK, denied=403, method="post")


NOT_UNITS = (OP, DI, LI, CS, SU, AD)  # handling units have no geography scope

MATRIX: dict[str, Entry] = {
    # project pages
    "home": everyone(200),
    "login": Entry("get", 200, dict.fromkeys(ALL, "302"), public=True),
    "logout": everyone(OK, "post"),
    "set_language": everyone(OK, "post"),
    "healthz": everyone(200),
    "livez": everyone(200),
    "otp_manage": staff(public=True),
    "otp_setup": staff(public=True),
    "otp_verify": staff(answer=OK, public=True),
    "otp_recovery_renew": staff(answer=OK, method="post", public=True),
    "otp_turn_off": staff(answer=OK, method="post", public=True),
    # cases
    "cases:list": staff(public=True),
    "cases:saved_filters": staff(public=True),
    "cases:saved_filter_add": staff(answer=OK, method="post", public=True),
    "cases:saved_filter_edit": staff(owned=True),
    "cases:saved_filter_delete": staff(answer=OK, method="post", owned=True),
    "cases:export_jobs": staff(public=True),
    "cases:export": staff(answer=OK, method="post", public=True),
    "cases:export_job": staff(owned=True),
    "cases:export_job_status": staff(owned=True),
    "cases:export_job_download": staff(owned=True),
    "cases:detail": staff(),
    "cases:photo": staff(),
    # resident pages
    "public:report": everyone(200),
    "public:report_done": everyone(404),  # only right after filing, from the filer's session
    "public:areas": everyone(200),
    "public:nearby": everyone(400),  # without a point: a field error
    "public:co_report": everyone(400, "post"),
    "public:track": everyone(200),
    "public:track_detail": everyone(200),  # the tracking code is the secret
    "public:rate": everyone(400, "post"),
    # intake desk
    "intake:desk": staff((OP, SU), public=True),
    "intake:check": staff((OP, SU), public=True),
    "intake:inbox": staff((OP, SU), public=True),
    "intake:duplicates": staff((OP, SU)),
    "intake:register": staff((OP, SU), answer=OK, method="post"),
    "intake:register_form": staff((OP, SU)),
    "intake:reject": staff((OP, SU), answer=OK, method="post"),
    "intake:reject_form": staff((OP, SU)),
    "intake:merge": staff((OP, SU), answer=OK, method="post"),
    # desk
    "desk:home": staff(public=True),
    "desk:notifications": staff(public=True),
    "desk:nav_counts": staff(public=True),  # the user's own worklist counts
    "desk:notifications_read": staff(answer=OK, method="post", public=True),
    "desk:notification_open": staff(answer="302", owned=True),
    "desk:notification_channels": staff(public=True),
    "desk:bulk_dispatch": staff((DI, SU), answer=OK, method="post", public=True),
    "desk:act": staff(answer=OK, method="post"),
    "desk:hotline_pushes": staff((OP, SU), public=True),
    "desk:hotline_push_retry": staff((OP, SU), answer=OK, method="post"),
    "desk:worklist": staff((LI, HU), public=True),  # "my cases" is for those who handle
    # communities, facilities, QR codes, disclosure
    "communities:list": everyone(200),
    "communities:detail": everyone(200),
    "communities:disclosure": everyone(200),
    "communities:facility_detail": everyone(200),
    "communities:facility_list": staff(NOT_UNITS, public=True),
    "communities:facility_qr_sheet": staff(NOT_UNITS, denied=404),
    "communities:facility_qr_image": staff(NOT_UNITS, denied=404),
    "communities:qr_sheet": staff(NOT_UNITS, denied=404),
    "communities:qr_image": staff(NOT_UNITS, denied=404),
    # field work
    "liaisons:home": staff(FIELD, public=True),
    "liaisons:patrol_list": staff(FIELD, public=True),
    "liaisons:patrol_new": staff((LI,), public=True),
    "liaisons:patrol_detail": staff(FIELD),
    "liaisons:finding_to_case": staff(FIELD, answer=OK, method="post"),
    "liaisons:visit_list": staff(FIELD, public=True),
    "liaisons:visit_record": staff(FIELD),
    "liaisons:meeting_list": staff((LI, CS, SU, AD), public=True),
    "liaisons:meeting_new": staff((LI, CS, SU), public=True),
    "liaisons:meeting_detail": staff((LI, CS, SU, AD)),
    "liaisons:cover_list": staff((SU, AD), public=True),
    "liaisons:cover_cancel": staff((SU, AD), answer=OK, method="post"),
    "inspections:shop_list": staff(FIELD, public=True),
    "inspections:shop_new": staff((LI,), public=True),
    "inspections:shop_detail": staff(FIELD),
    "inspections:shop_inspect": staff((LI,)),
    "inspections:notice_detail": staff(FIELD),
    "inspections:notice_reinspect": staff((LI,)),
    # dashboards (their figures are scoped; tests/cases/test_dashboard.py checks them)
    "dashboard:index": staff(public=True),
    "dashboard:chart_csv": staff(public=True),
    "dashboard:chart_data": staff(public=True),
    "dashboard:assessment": staff(public=True),
    "dashboard:assessment_export": staff(public=True),
    "dashboard:rate": staff((LI, CS), public=True),
    "dashboard:public": everyone(200),
    # REST API
    "api:token": everyone(400, "post"),
    "api:api-root": staff(anonymous=401, public=True),
    "api:schema": everyone(200),
    "api:docs": everyone(200),
    "api/^.*$": everyone(404),
    "api:district-list": staff(anonymous=401, public=True),
    "api:district-detail": api(NOT_UNITS),
    "api:street-list": staff(anonymous=401, public=True),
    "api:street-detail": api(NOT_UNITS),
    "api:community-list": staff(anonymous=401, public=True),
    "api:community-detail": api(NOT_UNITS),
    "api:gridcell-list": staff(anonymous=401, public=True),
    "api:gridcell-detail": api(NOT_UNITS),
    "api:handlingunit-list": staff(anonymous=401, public=True),
    "api:handlingunit-detail": api(),
    "api:category-list": staff(anonymous=401, public=True),
    "api:category-detail": staff(anonymous=401, public=True),
    "api:case-list": staff(anonymous=401, public=True),
    "api:case-detail": api(),
    "api:case-close-on-spot": api_verb(()),  # only for patrol finds; the world's case is a web report
    "api:case-decide-extension": api_verb((SU,)),
    "api:case-dispatch-case": api_verb((DI, SU)),
    "api:case-escalate": api_verb((SU,)),
    "api:case-mark-false": api_verb((SU,)),
    "api:case-merge": api_verb((OP, SU)),
    "api:case-photos": api_verb(),  # 400 for all: the upload is checked first
    "api:case-register": api_verb((OP, SU)),
    "api:case-reject": api_verb((OP, SU)),
    "api:case-reopen": api_verb((LI, SU)),
    "api:case-request-extension": api_verb((HU,)),
    "api:case-return-case": api_verb((HU,)),
    "api:case-sign-for": api_verb((HU,)),
    "api:case-submit-result": api_verb((HU,)),
    "api:case-unpark": api_verb((SU,)),
    "api:case-verify": api_verb((SU,)),
    "api:case-decide-parking": api_verb((SU,)),
    "api:case-hide-photo": api_verb((OP, SU)),
    "api:case-unhide-photo": api_verb((OP, SU)),
    "api:case-moderate-text": api_verb((OP, SU)),
    "api:case-recategorise": api_verb((OP, SU)),
    "api:case-request-park": api_verb((HU,)),
    "api:parkingrequest-list": staff(anonymous=401, public=True),
    "api:parkingrequest-detail": api(),
    "api:facility-list": staff(anonymous=401, public=True),
    "api:facility-detail": api(NOT_UNITS),
    "api:coverperiod-list": staff(anonymous=401, public=True),
    "api:coverperiod-detail": api((SU, AD)),
    "api:coverperiod-cancel": api((SU, AD), answer=OK, method="post"),
    "api:caseevent-list": staff(anonymous=401, public=True),
    "api:caseevent-detail": api(),
    "api:caseattachment-list": staff(anonymous=401, public=True),
    "api:caseattachment-detail": api(),
    "api:returnvisit-list": staff(anonymous=401, public=True),
    "api:returnvisit-detail": api(),
    "api:indicators-list": staff(anonymous=401, public=True),
    "api:rating-list": everyone(400, "post"),
    "api:twowayrating-list": staff(anonymous=401, public=True),
    "api:liaison-list": staff(anonymous=401, public=True),
    "api:liaison-detail": api(NOT_UNITS),
    "api:patrol-list": staff(anonymous=401, public=True),
    "api:patrol-detail": api(FIELD),
    "api:patrol-findings": api(FIELD, answer=OK, method="post"),
    "api:patrol-photos": api(FIELD, answer=OK, method="post"),
    "api:meeting-list": staff(anonymous=401, public=True),
    "api:meeting-detail": api((LI, CS, SU, AD)),
    "api:shop-list": staff(anonymous=401, public=True),
    "api:shop-detail": api(FIELD),
    "api:inspection-list": staff(anonymous=401, public=True),
    "api:inspection-detail": api(FIELD),
    "api:rectificationnotice-list": staff(anonymous=401, public=True),
    "api:rectificationnotice-detail": api(FIELD),
    # supervisors and administrators cannot re-inspect (403), others do not see notices (404)
    "api:rectificationnotice-reinspect": Entry(
        "post", 401, {OP: 404, DI: 404, LI: OK, CS: 404, HU: 404, SU: 403, AD: 403}
    ),
    # Open311 GeoReport v2: service list public; requests need a key (OPEN311_PUBLIC_READS off)
    "open311:discovery": everyone(200),
    "open311:services": everyone(200),
    "open311:service": everyone(200),
    "open311:requests": everyone(403),
    "open311:request": everyone(403),
    "open311:token": everyone(403),
    "open311/v2/^.*$": everyone(404),
}
# Arguments that do not name an object of a side: nothing to compare outside scope.
SIDELESS = {
    "communities:facility_list",
    "desk:worklist",
    "dashboard:chart_csv",
    "dashboard:chart_data",
    "dashboard:assessment_export",
    "api:category-detail",
}


def observed(response: Any) -> Any:
    if response.status_code == 302:
        location = response["Location"]
        return LOGIN if location.startswith(reverse("login")) else "302"
    return response.status_code


def matches(expected: Any, response: Any) -> bool:
    got = observed(response)
    if expected == OK:
        return got != LOGIN and (got == "302" or got in OK_CODES)
    return bool(got == expected)


def test_every_url_has_a_matrix_entry():
    # Given every URL the resolver knows (admin and CAPTCHA are checked below)
    keys = route_keys() - {ADMIN, CAPTCHA}

    # Then each has a declared expectation, and no entry is stale
    assert sorted(keys - set(MATRIX)) == [], "new URLs: declare who may reach them in MATRIX"
    assert sorted(set(MATRIX) - keys) == [], "MATRIX names URLs that no longer exist"


@pytest.fixture
def world() -> World:
    return build_world()


def _request(client: Client, method: str, url: str) -> Any:
    # Each request in its own savepoint: a POST that passes the gate changes
    # nothing the next user sees.
    cache.clear()  # rate limits (Open311, public forms) would answer 429 instead
    with transaction.atomic():
        response = getattr(client, method)(url)
        transaction.set_rollback(True)
    return response


def test_role_url_matrix(world):
    # Given one client per user: anonymous and one per role, all working in `home`
    clients: dict[str, Client] = {}
    for name in USERS:
        client = Client()
        user = world.users[name]
        if user is not None:
            client.force_login(user)
        clients[name] = client
    wrong: list[str] = []

    # When each user asks for each URL, for an object inside and outside their scope
    for key in sorted(set(MATRIX) & route_keys()):
        entry = MATRIX[key]
        sides = (True, False) if key in ARGS and key not in SIDELESS else (True,)
        for name in USERS:
            for scoped in sides:
                with transaction.atomic():
                    url = url_for(key, world, scoped, world.users[name])
                response = _request(clients[name], entry.method, url)
                if key == "logout" and world.users[name] is not None:
                    clients[name].force_login(world.users[name])
                expected = entry.expect(name, scoped)
                if not matches(expected, response):
                    where = "scoped" if scoped else "unscoped"
                    wrong.append(
                        f"{key} {entry.method.upper()} {url} as {name} ({where}): "
                        f"expected {expected}, got {observed(response)}"
                    )

    # Then every answer is the declared one
    assert wrong == [], "\n".join(wrong)


def test_api_refusals_are_structured(world):
    # Given an anonymous caller and a scoped operator
    operator = Client()
    operator.force_login(world.users[Role.OPERATOR])

    # When they ask for a case outside the operator's scope
    anonymous = Client().get(reverse("api:case-detail", kwargs={"number": world.away.case.number}))
    hidden = operator.get(reverse("api:case-detail", kwargs={"number": world.away.case.number}))

    # Then both get the structured error, and nothing tells the case exists
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"code", "message", "fields"}
    assert hidden.status_code == 404
    assert set(hidden.json()) == {"code", "message", "fields"}
    assert world.away.case.number not in hidden.content.decode()


def _admin_changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


@pytest.mark.parametrize("user", USERS)
def test_admin_is_for_staff_accounts_only(world, user):
    # Given a user of each role; only the administrator has a staff account
    client = Client()
    if world.users[user] is not None:
        client.force_login(world.users[user])

    # When they open the admin index and every model's list
    answers = {url: client.get(url) for url in [reverse("admin:index"), *_admin_changelists()]}

    # Then everyone but the administrator is sent to the admin's sign-in page
    for url, response in answers.items():
        if user == Role.ADMIN:
            assert response.status_code in (200, 403), url  # 403: a model the role may not view
        else:
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login")), url


def test_captcha_urls_are_public_and_harmless(client):
    # When anyone asks for a fresh CAPTCHA
    response = client.get(reverse("captcha-refresh"), HTTP_X_REQUESTED_WITH="XMLHttpRequest")

    # Then it is a JSON key and image, nothing else
    assert response.status_code == 200
    assert set(response.json()) >= {"key", "image_url"}


def test_roles_in_the_matrix_are_the_roles_of_the_project():
    assert set(ROLES) == {str(r) for r in Role}
    assert len(USERS) == len(Role) + 1
