from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inspections"
    verbose_name = _("Frontage responsibility inspections")

    def ready(self) -> None:
        from chengguan.permissions import area_rule, register_rule
        from inspections.models import Inspection, RectificationNotice, ResponsibilityUnit

        register_rule(
            ResponsibilityUnit,
            area_rule(
                app_model="inspections.responsibilityunit",
                district_path="community__street__district_id",
                community_path="community_id",
                whole_district_for_community_workers=False,
            ),
        )
        for model in (Inspection, RectificationNotice):
            register_rule(
                model,
                area_rule(
                    app_model=model._meta.label_lower,
                    district_path="unit__community__street__district_id",
                    community_path="unit__community_id",
                    whole_district_for_community_workers=False,
                ),
            )
