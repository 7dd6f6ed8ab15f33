from django.db import models
from django.utils.translation import gettext_lazy as _


class AssignmentRole(models.TextChoices):
    RESPONSIBLE = "responsible", _("Responsible liaison (A)")
    BACKUP = "backup", _("Backup liaison (B)")
