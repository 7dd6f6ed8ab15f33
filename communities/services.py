"""Writes on geography-bound reference data: facilities with QR service codes (城市服务码)."""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from chengguan.audit import audit
from chengguan.errors import InvalidInput
from communities.choices import FacilityKind
from communities.models import Community, Facility
from communities.selectors import Place, locate_point

FACILITY_CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
# The CSV header the import reads; `community` may be empty when the point lies in one.
FACILITY_CSV_COLUMNS = ("code", "name", "kind", "lat", "lng", "address", "community", "active")
_TRUE = {"1", "true", "yes", "y", "是", "有效", "启用"}
_FALSE = {"0", "false", "no", "n", "否", "无效", "停用"}


def facility_place(*, lat: float, lng: float, community: Community | None) -> Place:
    """Route a facility's point; refuse a point outside every community without `community`,
    or inside a community other than `community`."""
    place = locate_point(lat, lng)
    if place.community is None and community is None:
        raise InvalidInput(
            _("The point is not inside any community; name the community."),
            code="invalid.facility_place",
            field="community",
        )
    if place.community is not None and community is not None and place.community.pk != community.pk:
        raise InvalidInput(
            _("The point lies in %(found)s, not in %(given)s.")
            % {"found": place.community.name, "given": community.name},
            code="invalid.facility_place",
            field="community",
        )
    return place


@transaction.atomic
def facility_save(
    *,
    code: str,
    name: str,
    kind: FacilityKind | str,
    lat: float,
    lng: float,
    address: str = "",
    community: Community | None = None,
    is_active: bool = True,
    actor: Any = None,
) -> tuple[Facility, bool]:
    """Create the facility with this code, or update the one that has it.

    Preconditions: a valid code, kind and WGS-84 point. The point is routed
    to its community and grid cell; a point outside every community needs
    `community`, and a point inside a community other than `community` is refused.
    Side effects: one audit entry (facility.created / facility.updated).
    Returns (facility, created).
    """
    code = (code or "").strip()
    if not FACILITY_CODE_RE.match(code):
        raise InvalidInput(
            _("The facility code must be 1–32 letters, digits, dots, dashes or underscores."),
            code="invalid.facility_code",
            field="code",
        )
    try:
        kind = FacilityKind(kind)
    except ValueError:
        raise InvalidInput(
            _("Unknown facility kind “%(kind)s”.") % {"kind": kind},
            code="invalid.facility_kind",
            field="kind",
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput(_("The location is not a valid coordinate."), code="invalid.location", field="lat")
    place = facility_place(lat=lat, lng=lng, community=community)
    chosen = place.community or community
    assert chosen is not None
    facility = Facility.objects.select_for_update().filter(code=code).first()
    created = facility is None
    if facility is None:
        facility = Facility(code=code)
    facility.name = (name or "").strip()
    facility.kind = kind
    facility.lat, facility.lng = lat, lng
    facility.address = (address or "").strip()
    facility.community = chosen
    facility.grid_cell = place.grid_cell if place.community is not None else None
    facility.is_active = is_active
    try:
        facility.full_clean()
    except ValidationError as exc:
        raise InvalidInput("; ".join(exc.messages), code="invalid.facility") from exc
    facility.save()
    audit(
        actor=actor,
        action="facility.created" if created else "facility.updated",
        target=facility,
        community=chosen.pk,
    )
    return facility, created


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    # (line number in the file, message in the user's language)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _RowError(Exception):
    pass


def _parse_float(value: str, label: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _RowError(
            _("%(field)s “%(value)s” is not a number.") % {"field": label, "value": value}
        ) from None


@functools.cache
def _kind_by_name() -> dict[str, str]:
    """Each kind's code and its label in every site language, to the code.

    A sheet may name the kind either way, whichever language the importing
    user works in; built once, not for every row.
    """
    names: dict[str, str] = {}
    for kind in FacilityKind:
        names[kind.value] = kind.value
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                names[str(kind.label)] = kind.value
    return names


def _parse_kind(value: str) -> str:
    value = value.strip()
    kind = _kind_by_name().get(value)
    if kind is not None:
        return kind
    raise _RowError(
        _("Unknown facility kind “%(kind)s”; use one of: %(kinds)s.")
        % {"kind": value, "kinds": ", ".join(FacilityKind.values)}
    )


def _parse_active(value: str) -> bool:
    value = value.strip().lower()
    if value in ("", *_TRUE):
        return True
    if value in _FALSE:
        return False
    raise _RowError(_("“%(value)s” is not a yes/no value.") % {"value": value})


def facility_import_csv(*, data: bytes | str, actor: Any = None, dry_run: bool = False) -> ImportResult:
    """Import facilities from CSV (columns FACILITY_CSV_COLUMNS, UTF-8 with or without BOM).

    Preconditions: none; every row is checked.
    Side effects: all rows or none: one row with an error rolls the whole file
    back and every error is reported with its line number. Rows whose code
    exists update that facility, so importing the same file twice changes
    nothing more. Each saved row is audited (facility_save); the import too.
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    result = ImportResult()
    missing = [c for c in ("code", "name", "kind", "lat", "lng") if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(
            (1, _("The header lacks the column(s): %(columns)s.") % {"columns": ", ".join(missing)})
        )
        return result
    communities = {c.code: c for c in Community.objects.all()}
    seen: dict[str, int] = {}
    try:
        with transaction.atomic():
            for row in reader:
                line = reader.line_num
                values = {key: (value or "").strip() for key, value in row.items() if key}
                try:
                    code = values.get("code", "")
                    if code in seen:
                        raise _RowError(
                            _("The code %(code)s already appears on line %(line)d.")
                            % {"code": code, "line": seen[code]}
                        )
                    seen[code] = line
                    community = None
                    if values.get("community"):
                        community = communities.get(values["community"])
                        if community is None:
                            raise _RowError(
                                _("No community has the code “%(code)s”.") % {"code": values["community"]}
                            )
                    _facility, created = facility_save(
                        code=code,
                        name=values.get("name", ""),
                        kind=_parse_kind(values.get("kind", "")),
                        lat=_parse_float(values.get("lat", ""), _("latitude")),
                        lng=_parse_float(values.get("lng", ""), _("longitude")),
                        address=values.get("address", ""),
                        community=community,
                        is_active=_parse_active(values.get("active", "")),
                        actor=actor,
                    )
                except _RowError as error:
                    result.errors.append((line, str(error)))
                except InvalidInput as error:
                    result.errors.append((line, str(error.message)))
                else:
                    if created:
                        result.created += 1
                    else:
                        result.updated += 1
            if result.errors or dry_run:
                raise _Rollback
            audit(actor=actor, action="facility.imported", created=result.created, updated=result.updated)
    except _Rollback:
        if result.errors:
            result.created = result.updated = 0
    return result


class _Rollback(Exception):
    """Leaves the import's transaction without saving anything."""
