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


class FacilityKind(models.TextChoices):
    STREET_LIGHT = "street_light", _("Street light")
    PUBLIC_TOILET = "public_toilet", _("Public toilet")
    BILLBOARD = "billboard", _("Billboard")
    BIN = "bin", _("Litter bin")
    MANHOLE = "manhole", _("Manhole cover")
    OTHER = "other", _("Other facility")


# The complaint category a scan of each kind suggests (codes of cases.Category,
# seeded by cases/migrations/0003): the resident may still choose another.
FACILITY_CATEGORY_CODES: dict[str, str] = {
    FacilityKind.STREET_LIGHT: "9002",
    FacilityKind.PUBLIC_TOILET: "9004",
    FacilityKind.BILLBOARD: "0205",
    FacilityKind.BIN: "9003",
    FacilityKind.MANHOLE: "9001",
}
