from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChengguanConfig(AppConfig):
    """The project package doubles as the app for users, roles and audit."""

    name = "chengguan"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from chengguan import checks  # noqa: F401  (registers system checks)
        from chengguan.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="chengguan.sync_roles")
        # Sign-ins, lockouts and permission changes go to the audit log.
        from chengguan.security import connect_receivers

        connect_receivers()
        # Changes of roles, group permissions and superuser/active flags drop the users' cached figures.
        from chengguan.permissions import connect_scope_receivers

        connect_scope_receivers()
        # Per-process snapshots of reference tables are dropped when one changes.
        from chengguan import refdata

        refdata.connect()
