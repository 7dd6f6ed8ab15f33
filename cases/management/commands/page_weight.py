"""`manage.py page_weight [URL ...]`: what a page costs to load, and whether it stays on this host.

Each page is rendered through Django's test client; every asset it
references (link href, script src, img src, and url(...) inside the
stylesheets it loads) is fetched the same way, static files through the
staticfiles finders. The report lists raw and gzip-compressed bytes per
resource; the total counts what a browser transfers (gzip for text, raw for
already-compressed images). The command fails when a reference points to
another host, an asset is missing, or the total exceeds --budget.
Map tiles are not referenced by the page and so are never counted.
"""

from __future__ import annotations

import gzip
import mimetypes
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client

DEFAULT_URLS = ["/report/"]
DEFAULT_BUDGET_KB = 300.0
COMPRESSIBLE = re.compile(r"^(text/|application/(javascript|json|xml|.*\+json|.*\+xml))|image/svg\+xml")
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


class _References(HTMLParser):
    """Collects the URLs a page makes the browser fetch by itself."""

    WATCHED = {("link", "href"), ("script", "src"), ("img", "src"), ("source", "src"), ("input", "src")}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and (values.get("rel") or "").lower() in {"canonical", "alternate", "prev", "next"}:
            return  # navigation hints, not fetched
        for name, value in attrs:
            if value and (tag, name) in self.WATCHED:
                self.found.append((tag, value.strip()))
            if value and name == "srcset" and tag in {"img", "source"}:
                self.found += [
                    (tag, candidate.split()[0]) for candidate in value.split(",") if candidate.strip()
                ]


def html_references(html: str) -> list[tuple[str, str]]:
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser.found


def css_references(css: str) -> list[str]:
    return [match.group(2) or match.group(4) for match in CSS_URL.finditer(css)]


@dataclass
class Resource:
    url: str
    kind: str
    raw: int
    gzipped: int
    compressible: bool

    @property
    def transferred(self) -> int:
        return min(self.raw, self.gzipped) if self.compressible else self.raw


@dataclass
class PageWeight:
    url: str
    resources: list[Resource] = field(default_factory=list)
    off_host: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def raw(self) -> int:
        return sum(resource.raw for resource in self.resources)

    @property
    def transferred(self) -> int:
        return sum(resource.transferred for resource in self.resources)


def _gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def _host() -> str:
    """A host name the site answers to (the test client must pass ALLOWED_HOSTS)."""
    for host in settings.ALLOWED_HOSTS:
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


class Meter:
    """Fetches a page and its assets through the test client and weighs them."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or _host()
        self.client = Client(HTTP_HOST=self.host)
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else "/static/"

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in {"http", "https"} and parts.netloc == self.host

    def _fetch(self, url: str) -> tuple[bytes, str] | None:
        """(body, content type) of a same-origin URL, or None when it does not exist."""
        parts = urlsplit(url)
        if parts.path.startswith(self.static_prefix):
            found = finders.find(parts.path[len(self.static_prefix) :])
            if isinstance(found, list):
                found = found[0] if found else None
            if found:
                data = Path(found).read_bytes()
                return data, mimetypes.guess_type(parts.path)[0] or "application/octet-stream"
        response = self.client.get(parts.path, query_string=parts.query)
        if response.status_code != 200:
            return None
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        return body, response.get("Content-Type", "").split(";")[0]

    def _add(self, weight: PageWeight, url: str, kind: str, data: bytes, content_type: str) -> None:
        weight.resources.append(
            Resource(
                url=url,
                kind=kind,
                raw=len(data),
                gzipped=_gzip_size(data),
                compressible=bool(COMPRESSIBLE.match(content_type)),
            )
        )

    def measure(self, page: str) -> PageWeight:
        base = f"http://{self.host}"
        page_url = urljoin(base + "/", page)
        weight = PageWeight(url=page)
        fetched = self._fetch(page_url)
        if fetched is None:
            weight.missing.append(page)
            return weight
        html, content_type = fetched
        self._add(weight, urlsplit(page_url).path, "page", html, content_type or "text/html")
        queue: list[tuple[str, str, str]] = [
            (kind, urljoin(page_url, reference), reference)
            for kind, reference in html_references(html.decode("utf-8", "replace"))
        ]
        seen: set[str] = set()
        while queue:
            kind, absolute, reference = queue.pop(0)
            if reference.startswith(("data:", "#")) or absolute in seen:
                continue
            seen.add(absolute)
            if not self._same_origin(absolute):
                weight.off_host.append(reference)
                continue
            fetched = self._fetch(absolute)
            shown = urlsplit(absolute)._replace(scheme="", netloc="").geturl()
            if fetched is None:
                weight.missing.append(shown)
                continue
            data, content_type = fetched
            self._add(weight, shown, kind, data, content_type)
            if content_type == "text/css":
                queue += [
                    ("css url", urljoin(absolute, ref), ref)
                    for ref in css_references(data.decode("utf-8", "replace"))
                ]
        return weight


def _kb(size: int) -> str:
    return f"{size / 1024:8.1f}"


class Command(BaseCommand):
    help = "Report the bytes a page and its same-origin assets transfer (raw and gzip); fail over budget."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("urls", nargs="*", default=DEFAULT_URLS, help="pages to weigh (default /report/)")
        parser.add_argument(
            "--budget",
            type=float,
            default=DEFAULT_BUDGET_KB,
            help="maximum transferred KB per page, gzip for text (default 300)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        meter = Meter()
        budget = options["budget"] * 1024
        problems: list[str] = []
        for url in options["urls"] or DEFAULT_URLS:
            weight = meter.measure(url)
            self.stdout.write(f"\n{url}")
            self.stdout.write(f"  {'kind':<8} {'raw KB':>8} {'gzip KB':>8}  resource")
            for resource in weight.resources:
                gzipped = _kb(resource.gzipped) if resource.compressible else "       –"
                self.stdout.write(f"  {resource.kind:<8} {_kb(resource.raw)} {gzipped}  {resource.url}")
            self.stdout.write(
                f"  total    {_kb(weight.raw)} {_kb(weight.transferred)}  "
                f"transferred {weight.transferred / 1024:.1f} KB of {options['budget']:.0f} KB budget"
            )
            for reference in weight.off_host:
                problems.append(f"{url}: references another host: {reference}")
            for missing in weight.missing:
                problems.append(f"{url}: not found: {missing}")
            if weight.transferred > budget:
                transferred, limit = weight.transferred / 1024, options["budget"]
                problems.append(f"{url}: {transferred:.1f} KB transferred, over the {limit:.0f} KB budget")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} problem(s) with page weight")
        self.stdout.write(self.style.SUCCESS("\nAll pages within budget and on this host only."))
