"""Public community pages (人员信息上墙公开): the posted liaisons and how the community's cases fare."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cases.selectors import community_public_stats
from communities.public import communities_by_street, public_community, responsible_liaisons
from liaisons.choices import AssignmentRole
from liaisons.selectors import current_liaison


def _percent(rate: float | None) -> int | None:
    return None if rate is None else round(rate * 100)


@require_GET
def community_list(request: HttpRequest) -> HttpResponse:
    groups = communities_by_street()
    liaisons = responsible_liaisons(c for group in groups for c in group.communities)
    return render(
        request,
        "communities/community_list.html",
        {
            "groups": [
                (group.street, [(community, liaisons.get(community.pk)) for community in group.communities])
                for group in groups
            ],
        },
    )


@require_GET
def community_detail(request: HttpRequest, code: str) -> HttpResponse:
    community = public_community(code)
    if community is None:
        raise Http404
    stats = community_public_stats(community)
    return render(
        request,
        "communities/community_detail.html",
        {
            "community": community,
            "district": community.street.district,
            "responsible": current_liaison(community),
            "backup": current_liaison(community, AssignmentRole.BACKUP),
            "stats": stats,
            "on_time_percent": _percent(stats["on_time_rate"]),
            "satisfaction_percent": _percent(stats["satisfaction_rate"]),
            "report_url": f"{reverse('public:report')}?{urlencode({'community': community.code})}",
        },
    )
