from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiaisonsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "liaisons"
    verbose_name = _("Liaisons")

    def ready(self) -> None:
        from chengguan.permissions import area_rule, register_rule
        from liaisons.models import (
            CoverPeriod,
            LiaisonAssignment,
            Meeting,
            PatrolLog,
            PatrolPlan,
            ScheduledPatrol,
        )

        # Everything a liaison does belongs to one community: visible to
        # whoever works in it or oversees its district.
        for model in (LiaisonAssignment, PatrolPlan, ScheduledPatrol, PatrolLog, Meeting, CoverPeriod):
            register_rule(
                model,
                area_rule(
                    app_model=model._meta.label_lower,
                    district_path="community__street__district_id",
                    community_path="community_id",
                    whole_district_for_community_workers=False,
                ),
            )
