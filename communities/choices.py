from django.db import models
from django.utils.translation import gettext_lazy as _


class CommunityKind(models.TextChoices):
    COMMUNITY = "community", _("Community")
    VILLAGE = "village", _("Village")


class UnitKind(models.TextChoices):
    DEPARTMENT = "department", _("Government department")
    SANITATION = "sanitation", _("Sanitation")
    GREENING = "greening", _("Greening")
    MARKET = "market", _("Market supervision")
    PROPERTY = "property", _("Property company")
    CONTRACTOR = "contractor", _("Contractor")
    STREET_OFFICE = "street_office", _("Street office")
    OTHER = "other", _("Other")
