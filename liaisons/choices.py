from django.db import models
from django.utils.translation import gettext_lazy as _


class AssignmentRole(models.TextChoices):
    RESPONSIBLE = "responsible", _("Responsible liaison (A)")
    BACKUP = "backup", _("Backup liaison (B)")


class PatrolFrequency(models.TextChoices):
    TWICE_DAILY = "twice_daily", _("Twice a day (一日双巡)")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly (每周定期巡访)")
    MONTHLY = "monthly", _("Several times a month")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class ScheduledPatrolStatus(models.TextChoices):
    DUE = "due", _("Due")
    DONE = "done", _("Done")
    MISSED = "missed", _("Missed")
