import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from chengguan.models import AuditEntry
from communities.models import Community, District, GridCell, Street
from tests.factories import square

SAMPLE = Path(__file__).resolve().parents[2] / "communities" / "fixtures" / "sample_boundaries.geojson"

pytestmark = pytest.mark.django_db


def feature(code: str, name: str, geometry: dict | None, **properties: str) -> dict:
    return {"type": "Feature", "properties": {"code": code, "name": name, **properties}, "geometry": geometry}


def write(tmp_path: Path, *features: dict, name: str = "areas.geojson") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False))
    return str(path)


def run(path: str, level: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_boundaries", path, "--level", level, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[120.0, 30.0], [120.01, 30.01], [120.01, 30.0], [120.0, 30.01], [120.0, 30.0]]],
}


def test_sample_file_creates_districts_then_updates_them():
    # given an empty database
    # when the sample is imported
    out, _err = run(str(SAMPLE), "district")
    # then its districts exist with their boundary, centre and bounding box
    assert "2 created, 0 updated" in out
    west = District.objects.get(code="339902")
    assert west.name == "城西区"
    assert west.city == "示范市"
    assert west.boundary["type"] == "Polygon"
    assert west.min_lng == pytest.approx(120.03)
    assert west.max_lat == pytest.approx(30.305)
    assert west.min_lat < west.centroid_lat < west.max_lat
    entry = AuditEntry.objects.get(action="boundaries.imported")
    assert entry.data["created"] == 2
    assert entry.data["level"] == "district"

    # when it is imported again
    out, _err = run(str(SAMPLE), "district", "--city", "另一市")
    # then the same districts are updated, not duplicated
    assert "0 created, 2 updated" in out
    assert District.objects.count() == 2
    assert District.objects.get(code="339902").city == "另一市"


def test_lower_levels_resolve_their_parent_by_code(tmp_path):
    # given a district
    run(str(SAMPLE), "district")
    # when streets, a community and a grid cell are imported level by level,
    # with other property names
    streets = write(
        tmp_path,
        feature(
            "", "", square(120.03, 30.24, 0.02), adcode="339902001", title="西溪街道", belongs_to="339902"
        ),
        feature(
            "", "", square(120.05, 30.24, 0.02), adcode="339902002", title="留下街道", belongs_to="339902"
        ),
        name="streets.geojson",
    )
    out, _err = run(
        streets,
        "street",
        "--code-property",
        "adcode",
        "--name-property",
        "title",
        "--parent-property",
        "belongs_to",
    )
    run(
        write(tmp_path, feature("339902001001", "西溪社区", square(120.03, 30.24, 0.01), parent="339902001")),
        "community",
    )
    run(
        write(
            tmp_path,
            feature("339902001001001", "第一网格", square(120.03, 30.24, 0.005), parent="339902001001"),
        ),
        "grid",
    )
    # then each area hangs under the area its parent code names
    assert "2 created" in out
    assert Street.objects.get(code="339902002").district.code == "339902"
    community = Community.objects.get(code="339902001001")
    assert community.street.name == "西溪街道"
    assert GridCell.objects.get(code="339902001001001").community == community


def test_a_bad_feature_fails_the_whole_import(tmp_path):
    # given a district already imported, and a file with one good and two bad features
    run(str(SAMPLE), "district")
    path = write(
        tmp_path,
        feature("339902", "城西区（改名）", square(120.03, 30.24, 0.1)),
        feature("339904", "城南区", BOWTIE),
        feature("339905", "", square(120.3, 30.24, 0.1)),
    )
    entries = AuditEntry.objects.count()
    # when it is imported
    err = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError, match="2 of 3 feature"):
        call_command("import_boundaries", path, "--level", "district", stdout=io.StringIO(), stderr=err)
    # then each bad feature is named by index and code, and nothing changed
    assert "feature 1 (code 339904)" in err.getvalue()
    assert "intersects itself" in err.getvalue()
    assert "feature 2 (code 339905)" in err.getvalue()
    assert District.objects.get(code="339902").name == "城西区"
    assert not District.objects.filter(code__in=["339904", "339905"]).exists()
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    "features, message",
    [
        (
            [feature("339902001", "西溪街道", square(120.03, 30.24, 0.02), parent="NOPE")],
            "no district with code 'NOPE'",
        ),
        ([feature("339902001", "西溪街道", square(120.03, 30.24, 0.02))], "naming its parent"),
        ([feature("339902001", "西溪街道", None, parent="339902")], "must be a GeoJSON Polygon"),
        (
            [
                feature("339902001", "西溪街道", square(120.03, 30.24, 0.02), parent="339902"),
                feature("339902001", "西溪街道", square(120.05, 30.24, 0.02), parent="339902"),
            ],
            "also used by feature 0",
        ),
    ],
    ids=["unknown parent", "no parent", "no geometry", "repeated code"],
)
def test_street_errors_are_reported_per_feature(tmp_path, features, message):
    run(str(SAMPLE), "district")
    err = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError):
        call_command(
            "import_boundaries",
            write(tmp_path, *features),
            "--level",
            "street",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert "feature 0 (code 339902001)" in err.getvalue() or "feature 1 (code 339902001)" in err.getvalue()
    assert message in err.getvalue()
    assert not Street.objects.exists()


def test_dry_run_counts_but_writes_nothing():
    out, _err = run(str(SAMPLE), "district", "--dry-run")
    assert "Dry run" in out
    assert "2 created" in out
    assert not District.objects.exists()
    assert not AuditEntry.objects.filter(action="boundaries.imported").exists()


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"type": "Feature"}), json.dumps({"type": "FeatureCollection", "features": []})],
    ids=["not json", "not a collection", "empty"],
)
def test_unreadable_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.geojson"
    path.write_text(content)
    with pytest.raises(CommandError):
        run(str(path), "district")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.geojson"), "district")
