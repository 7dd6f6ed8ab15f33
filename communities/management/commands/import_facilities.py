"""Import facilities carrying QR service codes (城市服务码) from CSV.

    manage.py import_facilities facilities.csv [--dry-run]

Columns: code,name,kind,lat,lng,address,community,active (UTF-8, header
first). Rows are matched by code, so importing the same file twice changes
nothing; one bad row fails the whole file and every bad row is listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from communities.services import facility_import_csv


class Command(BaseCommand):
    help = "Import facilities (QR service codes) from a CSV file; all rows or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check the file, save nothing.")

    def handle(self, *args: Any, path: Path, dry_run: bool, **options: Any) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc}) from exc
        result = facility_import_csv(data=data, dry_run=dry_run)
        if not result.ok:
            lines = [
                _("Line %(line)d: %(message)s") % {"line": line, "message": msg}
                for line, msg in result.errors
            ]
            raise CommandError(_("Nothing was imported.") + "\n" + "\n".join(lines))
        self.stdout.write(
            _("%(created)d facilities created, %(updated)d updated%(dry)s.")
            % {
                "created": result.created,
                "updated": result.updated,
                "dry": _(" (dry run)") if dry_run else "",
            }
        )
