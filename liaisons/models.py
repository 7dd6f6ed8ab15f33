from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chengguan.permissions import RestrictedQuerySet
from liaisons.choices import AssignmentRole


class LiaisonAssignment(models.Model):
    """A liaison's posting to a community (一区一员), kept as history.

    At most one open assignment per community and role; ending one and
    starting the next happen in one transaction (liaisons.services).
    """

    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("liaison"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    role = models.CharField(
        _("role"), max_length=16, choices=AssignmentRole.choices, default=AssignmentRole.RESPONSIBLE
    )
    duties = models.TextField(_("duties"), blank=True)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["community", "role", "-starts_at"]
        verbose_name = _("liaison assignment")
        verbose_name_plural = _("liaison assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["community", "role"],
                condition=Q(ends_at__isnull=True),
                name="one_open_assignment_per_community_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.community} – {self.liaison} ({self.get_role_display()})"
