"""`manage.py page_weight`: the complaint form stays light and talks to no other host."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cases.management.commands.page_weight import Meter, css_references, html_references

pytestmark = pytest.mark.django_db


def test_the_complaint_form_is_within_budget_and_on_this_host_only(community, settings):
    settings.MAP_TILE_URL = ""
    out = StringIO()

    call_command("page_weight", stdout=out, stderr=StringIO())

    report = out.getvalue()
    assert "/report/" in report
    assert "/static/vendor/leaflet/leaflet.js" in report
    assert "/static/js/report.js" in report
    assert "/report/areas.json" in report  # the map data, preloaded from this host
    assert "within budget and on this host only" in report

    weight = Meter().measure("/report/")
    assert weight.off_host == [] and weight.missing == []
    assert weight.transferred < 300 * 1024
    kinds = {resource.url: resource for resource in weight.resources}
    leaflet = (
        kinds["/static/vendor/leaflet/leaflet.js"].transferred
        + kinds["/static/vendor/leaflet/leaflet.css"].transferred
    )
    assert 30 * 1024 < leaflet < 60 * 1024  # gzip; the bulk of the page


def test_the_tracking_and_community_pages_are_measured_too(community):
    out = StringIO()

    call_command("page_weight", "/track/", f"/communities/{community.code}/", stdout=out)

    assert f"/communities/{community.code}/" in out.getvalue()


def test_a_page_over_budget_fails(community):
    with pytest.raises(CommandError):
        call_command("page_weight", "/report/", "--budget", "10", stdout=StringIO(), stderr=StringIO())


def test_a_missing_page_fails(db):
    with pytest.raises(CommandError):
        call_command("page_weight", "/no-such-page/", stdout=StringIO(), stderr=StringIO())


def test_references_to_another_host_are_found():
    html = """
      <link rel="stylesheet" href="//cdn.example.com/a.css">
      <link rel="canonical" href="https://example.org/report/">
      <script src="https://cdn.example.com/leaflet.js"></script>
      <img src="/media/a.png" srcset="/media/a.png 1x, https://img.example.com/a@2x.png 2x">
      <a href="https://example.org/">not fetched</a>
    """
    found = [url for _kind, url in html_references(html)]

    assert found == [
        "//cdn.example.com/a.css",
        "https://cdn.example.com/leaflet.js",
        "/media/a.png",
        "/media/a.png",
        "https://img.example.com/a@2x.png",
    ]
    assert css_references(
        "a{background:url(images/x.png)} @import 'b.css'; b{src:url('https://f.example/f.woff2')}"
    ) == [
        "images/x.png",
        "b.css",
        "https://f.example/f.woff2",
    ]


def test_a_page_that_references_another_host_fails(community, monkeypatch):
    original = Meter._fetch

    def fetch(self, url):  # type: ignore[no-untyped-def]
        if url.endswith("/report/"):
            return b'<script src="https://cdn.example.com/leaflet.js"></script>', "text/html"
        return original(self, url)

    monkeypatch.setattr(Meter, "_fetch", fetch)
    assert Meter().measure("/report/").off_host == ["https://cdn.example.com/leaflet.js"]
    errors = StringIO()

    with pytest.raises(CommandError):
        call_command("page_weight", "/report/", stdout=StringIO(), stderr=errors)

    assert "references another host: https://cdn.example.com/leaflet.js" in errors.getvalue()
