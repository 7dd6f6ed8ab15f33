"""Roles (DESIGN §1) as groups with model permissions.

A role says what a user may do; where they may do it is their scope
(guardian object permissions, see chengguan.permissions). `sync_roles` runs
after every migrate, so the groups always match this table.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

GEOGRAPHY_VIEW = [
    "communities.view_district",
    "communities.view_street",
    "communities.view_community",
    "communities.view_gridcell",
    "communities.view_handlingunit",
    "communities.view_facility",
    "cases.view_category",
    "liaisons.view_liaisonassignment",
]

FIELD_WORK_VIEW = [
    "liaisons.view_patrolplan",
    "liaisons.view_scheduledpatrol",
    "liaisons.view_patrollog",
    "liaisons.view_meeting",
    "inspections.view_responsibilityunit",
    "inspections.view_inspection",
    "inspections.view_rectificationnotice",
    "cases.view_returnvisit",
]


class Role(TextChoices):
    OPERATOR = "operator", _("Operator")
    DISPATCHER = "dispatcher", _("Dispatcher")
    LIAISON = "liaison", _("Community liaison")
    COMMUNITY_STAFF = "community_staff", _("Community staff")
    HANDLING_UNIT = "handling_unit", _("Handling unit")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Administrator")


ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.OPERATOR: [
        *GEOGRAPHY_VIEW,
        "cases.view_case",
        "cases.add_case",
        "cases.register_case",
        "cases.view_reporter_contact",
        # Pushes back to the 12345 platform that failed (cases.hotline).
        "cases.view_hotlinepush",
        "cases.retry_hotlinepush",
    ],
    Role.DISPATCHER: [
        *GEOGRAPHY_VIEW,
        "cases.view_case",
        "cases.dispatch_case",
        "cases.view_reporter_contact",
    ],
    Role.LIAISON: [
        *GEOGRAPHY_VIEW,
        *FIELD_WORK_VIEW,
        "liaisons.add_patrollog",
        "liaisons.add_meeting",
        "inspections.add_inspection",
        "inspections.add_responsibilityunit",
        "inspections.change_responsibilityunit",
        "cases.view_case",
        "cases.add_case",
        "cases.handle_case",
        "cases.reopen_case",
        # Only where the community has its liaison verify (cases.CommunityCaseSettings).
        "cases.verify_community_case",
        "cases.view_reporter_contact",
        # Two-way assessment: the liaison rates the community's cooperation.
        "cases.rate_community",
    ],
    Role.COMMUNITY_STAFF: [
        *GEOGRAPHY_VIEW,
        "liaisons.view_meeting",
        "liaisons.add_meeting",
        "cases.view_case",
        "cases.add_case",
        # Two-way assessment: the community rates its liaison.
        "cases.rate_liaison",
    ],
    Role.HANDLING_UNIT: [*GEOGRAPHY_VIEW, "cases.view_case", "cases.handle_case"],
    Role.SUPERVISOR: [
        *GEOGRAPHY_VIEW,
        *FIELD_WORK_VIEW,
        "liaisons.add_meeting",
        "cases.view_case",
        # Conduct complaints reach supervisors only, so they register and
        # dispatch those themselves.
        "cases.register_case",
        "cases.dispatch_case",
        "cases.verify_case",
        "cases.supervise_case",
        "cases.reopen_case",
        "cases.view_conduct_complaint",
        "cases.view_reporter_contact",
        "cases.view_hotlinepush",
        "cases.retry_hotlinepush",
        # Backup liaisons' cover periods (AB角).
        "liaisons.view_coverperiod",
        "liaisons.add_coverperiod",
        "liaisons.change_coverperiod",
    ],
    Role.ADMIN: [
        *GEOGRAPHY_VIEW,
        *FIELD_WORK_VIEW,
        "liaisons.add_patrolplan",
        "liaisons.change_patrolplan",
        "inspections.view_checklistitem",
        "inspections.add_checklistitem",
        "inspections.change_checklistitem",
        # 门前三包 agreements, kept in the admin (liaisons register the shops in the field).
        "inspections.view_agreement",
        "inspections.add_agreement",
        "inspections.change_agreement",
        "cases.view_case",
        "cases.view_reporter_contact",
        # Requests to be forgotten (PIPL), honoured in the admin (cases.retention).
        "cases.forget_reporter",
        "communities.oversee_city",
        "communities.add_district",
        "communities.change_district",
        "communities.add_street",
        "communities.change_street",
        "communities.add_community",
        "communities.change_community",
        "communities.add_gridcell",
        "communities.change_gridcell",
        "communities.add_handlingunit",
        "communities.change_handlingunit",
        "communities.add_facility",
        "communities.change_facility",
        "communities.view_enforcementdisclosure",
        "communities.add_enforcementdisclosure",
        "communities.change_enforcementdisclosure",
        "liaisons.view_coverperiod",
        "liaisons.add_coverperiod",
        "liaisons.change_coverperiod",
        "cases.add_category",
        "cases.change_category",
        "cases.view_timelimit",
        "cases.add_timelimit",
        "cases.change_timelimit",
        "cases.delete_timelimit",
        "chengguan.view_calendaroverride",
        "chengguan.add_calendaroverride",
        "chengguan.change_calendaroverride",
        "chengguan.delete_calendaroverride",
        "chengguan.view_user",
        "chengguan.add_user",
        "chengguan.change_user",
        "chengguan.view_auditentry",
        # The monthly assessment's weights (cases.AssessmentWeights).
        "cases.view_assessmentweights",
        "cases.add_assessmentweights",
        "cases.change_assessmentweights",
        "cases.view_twowayrating",
    ],
}


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def sync_roles() -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(p) for p in perms])


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app; run after the last, when every
    # permission exists.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if sender is with_models[-1]:
        # This receiver may run before auth's own for the last app; make sure
        # every permission exists first (create_permissions is idempotent).
        for config in with_models:
            create_permissions(config, verbosity=0, using=kwargs.get("using", "default"))
        sync_roles()


def role_group(role: str) -> Group:
    return Group.objects.get(name=role)
