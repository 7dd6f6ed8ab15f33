"""Every URL of the project, from the resolver, and how to fill in its arguments.

`all_routes()` walks django.urls.get_resolver() through every include, so a
URL added anywhere shows up here and must be classified by the matrix
(tests/security/test_url_matrix.py). `url_for(name, world, side, user)`
builds a concrete path to an object of `side` (inside or outside the user's
scope).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cases.models import CaseAttachment, CaseEvent, ExportJob, SavedFilter
from chengguan.models import Notification
from communities.models import GridCell
from liaisons.models import LiaisonAssignment
from tests.factories import leaf_category
from tests.security.world import Side, World

ADMIN = "admin:*"
CAPTCHA = "captcha:*"


@dataclass(frozen=True)
class Route:
    key: str  # the namespaced URL name, or the route itself when unnamed
    route: str


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            key = (f"{namespace}:{pattern.name}" if namespace else pattern.name) if pattern.name else route
            if key.startswith("admin:") or route.startswith("admin/"):
                key = ADMIN
            elif key.startswith("captcha-") or route.startswith("captcha/"):
                key = CAPTCHA
            yield Route(key, route)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def route_keys() -> set[str]:
    return {route.key for route in all_routes()}


_serial = count(1)


def _owner(world: World, user: Any, scoped: bool) -> Any:
    """Objects that belong to a person: the user's own when scoped, someone else's otherwise."""
    return user if (scoped and user is not None) else world.root


def _saved_filter(world: World, side: Side, user: Any, scoped: bool) -> dict[str, Any]:
    saved = SavedFilter.objects.create(
        owner=_owner(world, user, scoped),
        list_key="cases",
        name=f"筛选{next(_serial)}",
        querystring="status=closed",
    )
    return {"pk": saved.pk}


def _export_job(world: World, side: Side, user: Any, scoped: bool) -> dict[str, Any]:
    job = ExportJob.objects.create(
        owner=_owner(world, user, scoped), list_key="cases", format="csv", status=ExportJob.Status.DONE
    )
    job.file.save("cases.csv", ContentFile(b"number\n"), save=True)
    return {"pk": job.pk}


def _notification(world: World, side: Side, user: Any, scoped: bool) -> dict[str, Any]:
    note = Notification.objects.create(
        recipient=_owner(world, user, scoped), title="通知", url="/desk/", key=f"sec-{next(_serial)}"
    )
    return {"pk": note.pk}


def _case(attr: str = "case") -> Callable[[World, Side, Any, bool], dict[str, Any]]:
    return lambda world, side, user, scoped: {"number": getattr(side, attr).number}


def _pk(getter: Callable[[Side], Any]) -> Callable[[World, Side, Any, bool], dict[str, Any]]:
    return lambda world, side, user, scoped: {"pk": getter(side)}


def _photo(world: World, side: Side, user: Any, scoped: bool) -> dict[str, Any]:
    attachment = CaseAttachment.objects.filter(case=side.case).first()
    assert attachment is not None
    return {"number": side.case.number, "pk": attachment.pk}


ArgsBuilder = Callable[[World, Side, Any, bool], dict[str, Any]]

# URL name -> the arguments of a path to an object of one side; names
# without arguments are absent.
ARGS: dict[str, ArgsBuilder] = {
    "cases:saved_filter_edit": _saved_filter,
    "cases:saved_filter_delete": _saved_filter,
    "cases:export_job": _export_job,
    "cases:export_job_status": _export_job,
    "cases:export_job_download": _export_job,
    "cases:detail": _case(),
    "cases:photo": _photo,
    "public:report_done": lambda w, s, u, sc: {"code": s.case.tracking_code},
    "public:track_detail": lambda w, s, u, sc: {"code": s.case.tracking_code},
    "public:rate": lambda w, s, u, sc: {"code": s.case.tracking_code},
    "intake:duplicates": _case("reported_case"),
    "intake:register": _case("reported_case"),
    "intake:register_form": _case("reported_case"),
    "intake:reject": _case("reported_case"),
    "intake:reject_form": _case("reported_case"),
    "intake:merge": _case("reported_case"),
    "desk:notification_open": _notification,
    "desk:act": lambda w, s, u, sc: {"number": s.open_case.number, "action": "sign-for"},
    "desk:hotline_push_retry": _pk(lambda s: s.push.pk),
    "desk:worklist": lambda w, s, u, sc: {"slug": "mine"},
    "communities:facility_detail": lambda w, s, u, sc: {"code": s.facility.code},
    "communities:facility_qr_sheet": lambda w, s, u, sc: {"code": s.facility.code},
    "communities:facility_qr_image": lambda w, s, u, sc: {"code": s.facility.code, "fmt": "svg"},
    "communities:disclosure": lambda w, s, u, sc: {"code": s.district.code},
    "communities:detail": lambda w, s, u, sc: {"code": s.community.code},
    "communities:qr_sheet": lambda w, s, u, sc: {"code": s.community.code},
    "communities:qr_image": lambda w, s, u, sc: {"code": s.community.code, "fmt": "svg"},
    "liaisons:patrol_detail": _pk(lambda s: s.patrol.pk),
    "liaisons:finding_to_case": _pk(lambda s: s.finding.pk),
    "liaisons:visit_record": _pk(lambda s: s.visit.pk),
    "liaisons:meeting_detail": _pk(lambda s: s.meeting.pk),
    "liaisons:cover_cancel": _pk(lambda s: s.cover.pk),
    "inspections:shop_detail": _pk(lambda s: s.shop.pk),
    "inspections:shop_inspect": _pk(lambda s: s.shop.pk),
    "inspections:notice_detail": _pk(lambda s: s.notice.pk),
    "inspections:notice_reinspect": _pk(lambda s: s.notice.pk),
    "dashboard:chart_csv": lambda w, s, u, sc: {"chart": "indicators"},
    "dashboard:chart_data": lambda w, s, u, sc: {"chart": "trend"},
    "dashboard:assessment_export": lambda w, s, u, sc: {"fmt": "csv"},
    "api:district-detail": _pk(lambda s: s.district.pk),
    "api:street-detail": _pk(lambda s: s.community.street_id),
    "api:community-detail": _pk(lambda s: s.community.pk),
    "api:gridcell-detail": _pk(
        lambda s: GridCell.objects.filter(community=s.community).values_list("pk", flat=True)[0]
    ),
    "api:handlingunit-detail": _pk(lambda s: s.unit.pk),
    "api:category-detail": lambda w, s, u, sc: {"pk": leaf_category().pk},
    "api:caseevent-detail": _pk(
        lambda s: CaseEvent.objects.filter(case=s.case).values_list("pk", flat=True)[0]
    ),
    "api:caseattachment-detail": _pk(
        lambda s: CaseAttachment.objects.filter(case=s.case).values_list("pk", flat=True)[0]
    ),
    "api:returnvisit-detail": _pk(lambda s: s.visit.pk),
    "api:liaison-detail": _pk(
        lambda s: LiaisonAssignment.objects.filter(community=s.community, ends_at__isnull=True).values_list(
            "pk", flat=True
        )[0]
    ),
    "api:patrol-detail": _pk(lambda s: s.patrol.pk),
    "api:patrol-findings": _pk(lambda s: s.patrol.pk),
    "api:patrol-photos": _pk(lambda s: s.patrol.pk),
    "api:meeting-detail": _pk(lambda s: s.meeting.pk),
    "api:shop-detail": _pk(lambda s: s.shop.pk),
    "api:inspection-detail": _pk(lambda s: s.notice.inspection_id),
    "api:rectificationnotice-detail": _pk(lambda s: s.notice.pk),
    "api:rectificationnotice-reinspect": _pk(lambda s: s.notice.pk),
    "communities:facility_list": lambda w, s, u, sc: {},
    "api:facility-detail": lambda w, s, u, sc: {"code": s.facility.code},
    "api:parkingrequest-detail": _pk(lambda s: s.parking.pk),
    "api:coverperiod-detail": _pk(lambda s: s.cover.pk),
    "api:coverperiod-cancel": _pk(lambda s: s.cover.pk),
    "open311:service": lambda w, s, u, sc: {"service_code": leaf_category().code},
    "open311:request": lambda w, s, u, sc: {"service_request_id": s.case.number},
    "open311:token": lambda w, s, u, sc: {"token": s.case.tracking_code},
}
for _verb in (
    "detail",
    "close-on-spot",
    "decide-extension",
    "dispatch-case",
    "escalate",
    "mark-false",
    "decide-parking",
    "hide-photo",
    "merge",
    "moderate-text",
    "photos",
    "recategorise",
    "register",
    "reject",
    "reopen",
    "request-extension",
    "request-park",
    "return-case",
    "sign-for",
    "submit-result",
    "unhide-photo",
    "unpark",
    "verify",
):
    ARGS[f"api:case-{_verb}"] = _case("open_case")

# Unnamed catch-alls: a concrete path under them.
CATCH_ALL_PATHS = {"api/^.*$": "/api/no-such-thing/", "open311/v2/^.*$": "/open311/v2/no-such-thing"}


def url_for(key: str, world: World, scoped: bool, user: Any) -> str:
    if key in CATCH_ALL_PATHS:
        return CATCH_ALL_PATHS[key]
    builder = ARGS.get(key)
    kwargs = builder(world, world.side(scoped), user, scoped) if builder else {}
    return reverse(key, kwargs=kwargs)
