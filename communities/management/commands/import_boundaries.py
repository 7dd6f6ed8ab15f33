"""Import area boundaries of one level from a GeoJSON FeatureCollection.

    manage.py import_boundaries streets.geojson --level street

Each feature is one area, matched by its code: a new code creates the area, a
known one updates its name, parent and boundary. Every feature is checked
(code, name, parent, geometry through Area.set_boundary) before anything is
kept; one bad feature fails the whole import and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from chengguan.audit import audit
from communities.models import Area, Community, District, GridCell, Street


@dataclass(frozen=True)
class Level:
    model: type[Area]
    # The field pointing at the containing area and that area's model.
    parent_field: str | None = None
    parent_model: type[Area] | None = None


LEVELS: dict[str, Level] = {
    "district": Level(District),
    "street": Level(Street, "district", District),
    "community": Level(Community, "street", Street),
    "grid": Level(GridCell, "community", Community),
}


class FeatureError(Exception):
    """A problem with one feature, reported with its index and code."""


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = "Create or update districts, streets, communities or grid cells from a GeoJSON FeatureCollection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="GeoJSON FeatureCollection (WGS-84) holding areas of one level.")
        parser.add_argument("--level", required=True, choices=list(LEVELS), help="Level of every feature.")
        parser.add_argument("--code-property", default="code", help="Feature property with the area code.")
        parser.add_argument("--name-property", default="name", help="Feature property with the area name.")
        parser.add_argument(
            "--parent-property",
            default="parent",
            help="Feature property with the code of the containing area (not used for districts).",
        )
        parser.add_argument("--city", default="示范市", help="City of imported districts.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, but save nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        level = LEVELS[options["level"]]
        features = self._read_features(Path(options["file"]))
        created = updated = 0
        errors: list[str] = []
        seen: dict[str, int] = {}
        parents: dict[str, Area | None] = {}
        with transaction.atomic():
            for index, feature in enumerate(features):
                code = ""
                try:
                    code = self._code(feature, options["code_property"])
                    if code in seen:
                        raise FeatureError(f"the code is also used by feature {seen[code]}")
                    seen[code] = index
                    defaults = self._defaults(feature, level, options, parents)
                    _area, was_created = level.model.objects.update_or_create(code=code, defaults=defaults)
                except (FeatureError, ValidationError) as exc:
                    message = _messages(exc) if isinstance(exc, ValidationError) else str(exc)
                    errors.append(f"feature {index} (code {code or '?'}): {message}")
                    continue
                if was_created:
                    created += 1
                else:
                    updated += 1
            if errors:
                for line in errors:
                    self.stderr.write(line)
                raise CommandError(
                    f"{len(errors)} of {len(features)} feature(s) are not valid; nothing was imported."
                )
            audit(
                actor=None,
                action="boundaries.imported",
                file=Path(options["file"]).name,
                level=options["level"],
                created=created,
                updated=updated,
                dry_run=options["dry_run"],
            )
            if options["dry_run"]:
                transaction.set_rollback(True)
        summary = f"{options['level']}: {created} created, {updated} updated"
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING(f"Dry run, nothing saved. {summary}."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {summary}."))

    def _read_features(self, path: Path) -> list[Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path}: not a readable GeoJSON file ({exc}).") from None
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise CommandError(f"{path}: expected a GeoJSON FeatureCollection.")
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise CommandError(f"{path}: the FeatureCollection has no features.")
        return features

    def _code(self, feature: Any, code_property: str) -> str:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FeatureError("not a GeoJSON Feature")
        code = str((feature.get("properties") or {}).get(code_property) or "").strip()
        if not code:
            raise FeatureError(f"no “{code_property}” property")
        return code

    def _defaults(
        self, feature: dict[str, Any], level: Level, options: dict[str, Any], parents: dict[str, Area | None]
    ) -> dict[str, Any]:
        """The field values for the feature's area, validated on an unsaved copy."""
        properties = feature.get("properties") or {}
        name = str(properties.get(options["name_property"]) or "").strip()
        if not name:
            raise FeatureError(f"no “{options['name_property']}” property")
        values: dict[str, Any] = {"name": name}
        if level.model is District:
            values["city"] = options["city"]
        if level.parent_field and level.parent_model:
            parent_code = str(properties.get(options["parent_property"]) or "").strip()
            if not parent_code:
                raise FeatureError(f"no “{options['parent_property']}” property naming its parent")
            if parent_code not in parents:
                parents[parent_code] = level.parent_model.objects.filter(code=parent_code).first()
            parent = parents[parent_code]
            if parent is None:
                kind = level.parent_model._meta.verbose_name
                raise FeatureError(f"no {kind} with code {parent_code!r}; import that level first")
            values[level.parent_field] = parent
        candidate = level.model(code=self._code(feature, options["code_property"]), **values)
        candidate.set_boundary(feature)
        # Unique checks would reject every update; the upsert handles the code.
        candidate.full_clean(validate_unique=False, validate_constraints=False)
        derived = ("boundary", "centroid_lat", "centroid_lng", "min_lat", "min_lng", "max_lat", "max_lng")
        return {**values, **{field: getattr(candidate, field) for field in derived}}
