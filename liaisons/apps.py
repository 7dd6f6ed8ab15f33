from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiaisonsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "liaisons"
    verbose_name = _("Liaisons")

    def ready(self) -> None:
        from chengguan.permissions import area_rule, register_rule
        from liaisons.models import LiaisonAssignment

        register_rule(
            LiaisonAssignment,
            area_rule(
                app_model="liaisons.liaisonassignment",
                district_path="community__street__district_id",
                community_path="community_id",
            ),
        )
