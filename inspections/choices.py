from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    SHOP = "shop", _("Shop")
    RESTAURANT = "restaurant", _("Restaurant")
    MARKET = "market", _("Market stall")
    INSTITUTION = "institution", _("Institution or company")
    OTHER = "other", _("Other")


class ChecklistGroup(models.TextChoices):
    APPEARANCE = "appearance", _("City appearance (市容)")
    SANITATION = "sanitation", _("Environmental sanitation (环境卫生)")
    ORDER = "order", _("Order (秩序)")
    FUMES = "fumes", _("Cooking fumes (油烟)")
    OTHER = "other", _("Other")


class NoticeStatus(models.TextChoices):
    ISSUED = "issued", _("Issued, awaiting re-inspection")
    RECTIFIED = "rectified", _("Rectified")
    NOT_RECTIFIED = "not_rectified", _("Not rectified, case filed")
