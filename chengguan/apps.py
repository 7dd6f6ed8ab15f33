from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChengguanConfig(AppConfig):
    """The project package doubles as the app for users, roles and audit."""

    name = "chengguan"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from chengguan import checks  # noqa: F401  (registers system checks)
        from chengguan.models import CalendarOverride
        from chengguan.roles import sync_roles_after_migrate
        from chengguan.worktime import invalidate_overrides

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="chengguan.sync_roles")
        # Sign-ins, lockouts and permission changes go to the audit log.
        from chengguan.security import connect_receivers

        connect_receivers()
        # Cached calendar overrides must change the moment an admin edits one.
        post_save.connect(invalidate_overrides, sender=CalendarOverride, dispatch_uid="wt.save")
        post_delete.connect(invalidate_overrides, sender=CalendarOverride, dispatch_uid="wt.del")
