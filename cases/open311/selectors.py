"""Reads behind the Open311 endpoint: which categories are services, which cases are requests."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from cases.models import Case, CaseAttachment, Category, Open311Client, api_key_digest
from chengguan import clock


def open311_services() -> QuerySet[Category]:
    """Active categories a report can be filed under: subcategories, and top-level ones without any."""
    return (
        Category.objects.filter(is_active=True)
        .annotate(active_children=Count("children", filter=Q(children__is_active=True)))
        .filter(Q(parent__isnull=False) | Q(active_children=0))
        .select_related("parent")
        .order_by("code")
    )


def api_key_holder(api_key: str | None) -> Open311Client | None:
    """The client `api_key` was issued to, whatever the key's state, or None.

    One indexed query on the key's digest; the key itself is not stored.
    """
    if not api_key or len(api_key) > 200:
        return None
    return Open311Client.objects.filter(key_digest=api_key_digest(api_key)).select_related("account").first()


def open311_client(api_key: str | None) -> Open311Client | None:
    """The client holding `api_key` if the key works now (active, not revoked or expired), or None."""
    client = api_key_holder(api_key)
    return client if client is not None and client.is_usable(clock.now()) else None


def open311_requests(client: Open311Client | None) -> QuerySet[Case]:
    """The cases readable as service requests: a client's source, or all (public reads).

    Complaints about an officer's conduct are never shown; neither are
    reporters' names and phone numbers (the requests carry none).
    """
    cases = (
        Case.objects.filter(subject_officer__isnull=True)
        .select_related("category", "handling_unit", "district", "merged_into")
        .defer("district__boundary")
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=CaseAttachment.objects.filter(is_hidden=False).order_by("created_at", "id"),
                to_attr="public_photos",
            )
        )
    )
    if client is not None:
        cases = cases.filter(source=client.source)
    return cases
