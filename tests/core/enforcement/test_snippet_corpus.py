"""The snippet corpus (tests/data/snippets/): a page per tracker-catalogue service, written from
the vendor's documentation, and ordinary first-party pages that must pass untouched. No browser
and no gateway here: these checks keep the pages, their manifest and the catalogue in step, so
that the Chromium harness can trust what it serves."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO

SNIPPETS = REPO / "tests" / "data" / "snippets"
CATALOGUE = REPO / "gateway" / "adapters" / "catalogue" / "trackers.toml"
MANIFEST = tomllib.loads((SNIPPETS / "manifest.toml").read_text(encoding="utf-8"))
TRACKERS: dict[str, dict[str, Any]] = {entry["id"]: entry for entry in MANIFEST["tracker"]}
ORDINARY: list[str] = [entry["page"] for entry in MANIFEST["ordinary"]]
TRACKER_PAGES = sorted((SNIPPETS / "trackers").glob("*.html"))
ORDINARY_PAGES = sorted((SNIPPETS / "ordinary").glob("*.html"))

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})
OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody"})
HOST_LIKE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


class Page(HTMLParser):
    """One page, parsed: the elements it opens (which must also close, in order, which
    html.parser alone does not check) and the absolute URLs a browser would fetch."""

    def __init__(self, path: Path) -> None:
        super().__init__(convert_charrefs=True)
        self.text = path.read_text(encoding="utf-8")
        self.doctype = ""
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.fetched: list[str] = []
        self._open: list[str] = []
        self.feed(self.text)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag in self._open if tag not in OPTIONAL_END]

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        if tag not in VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        urls = [values.get(name) or "" for name in ("src", "poster", "data")]
        urls += [candidate.split()[0] for candidate in (values.get("srcset") or "").split(",")
                 if candidate.strip()]
        if tag in ("link", "image"):
            urls.append(values.get("href") or "")
        self.fetched += [url for url in urls if url.startswith(("http://", "https://", "//"))]

    def handle_endtag(self, tag: str) -> None:
        where = f"line {self.getpos()[0]}"
        if tag not in self._open:
            self.errors.append(f"</{tag}> at {where} closes nothing")
            return
        while (top := self._open.pop()) != tag:
            if top not in OPTIONAL_END:
                self.errors.append(f"<{top}> not closed before </{tag}> at {where}")

    def has(self, tag: str, attribute: str | None = None) -> bool:
        return any(name == tag and (attribute is None or values.get(attribute))
                   for name, values in self.tags)

    def first_comment(self) -> str:
        return self.text.split("\n", 1)[0]


def host_of(url: str) -> str:
    return urlsplit("https:" + url if url.startswith("//") else url).hostname or ""


def service_hosts(service: dict[str, Any]) -> list[str]:
    """The host names and host globs a catalogue entry claims, its `urls` hosts included."""
    return [*service.get("hosts", []),
            *(re.split(r"[/?]", pattern, maxsplit=1)[0] for pattern in service.get("urls", []))]


def claims(pattern: str, host: str) -> bool:
    if "*" in pattern:
        return fnmatch.fnmatchcase(host, pattern)
    return host == pattern or host.endswith("." + pattern)


@pytest.fixture(scope="module")
def catalogue() -> dict[str, dict[str, Any]]:
    if not CATALOGUE.exists():
        pytest.skip(f"no tracker catalogue at {CATALOGUE.relative_to(REPO)} yet: the corpus "
                    "cannot be checked against it")
    services = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))["service"]
    return {service["id"]: service for service in services}


def test_every_catalogue_service_has_a_page_and_a_manifest_entry(
        catalogue: dict[str, dict[str, Any]]) -> None:
    pages = {path.stem for path in TRACKER_PAGES}
    assert sorted(set(catalogue) - pages) == [], "services without a page"
    assert sorted(set(catalogue) - set(TRACKERS)) == [], "services without a manifest entry"
    assert sorted(pages - set(catalogue)) == [], "pages of no catalogue service"
    assert sorted(set(TRACKERS) - set(catalogue)) == [], "manifest entries of no service"
    assert len(MANIFEST["tracker"]) == len(TRACKERS), "a service listed twice in the manifest"


def test_the_manifest_keeps_the_catalogues_categories(
        catalogue: dict[str, dict[str, Any]]) -> None:
    differ = {sid: (entry["category"], catalogue[sid]["category"])
              for sid, entry in TRACKERS.items()
              if sid in catalogue and entry["category"] != catalogue[sid]["category"]}
    assert differ == {}


@pytest.mark.parametrize("path", TRACKER_PAGES + ORDINARY_PAGES,
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_page_is_a_small_complete_document(path: Path) -> None:
    page = Page(path)
    assert page.errors == []
    assert page.doctype.lower() == "doctype html"
    assert page.has("html", "lang") and page.has("meta", "charset")
    assert page.has("title") and page.has("h1") and page.has("p")


@pytest.mark.parametrize("path", TRACKER_PAGES, ids=lambda path: path.stem)
def test_a_tracker_page_names_its_source_and_the_hosts_it_reaches(path: Path) -> None:
    page = Page(path)
    assert re.fullmatch(r"<!-- source: https://\S+ -->", page.first_comment())
    entry = TRACKERS[path.stem]
    hosts = [*entry["first_hosts"], *entry["noscript_hosts"]]
    assert entry["first_hosts"], "a tracker page reaches at least one host"
    assert [host for host in hosts if host not in page.text] == []


@pytest.mark.parametrize("path", TRACKER_PAGES, ids=lambda path: path.stem)
def test_a_tracker_page_fetches_only_from_its_own_service(
        path: Path, catalogue: dict[str, dict[str, Any]]) -> None:
    entry = TRACKERS[path.stem]
    own = service_hosts(catalogue[path.stem])
    listed = [*entry["first_hosts"], *entry["noscript_hosts"]]
    if entry.get("self_hosted"):
        # Installed on the site owner's own server: only paths and markers can catch it.
        everyone = [pattern for service in catalogue.values()
                    for pattern in service_hosts(service)]
        assert [host for host in listed if any(claims(p, host) for p in everyone)] == []
        own = listed
    assert [host for host in listed if not any(claims(p, host) for p in own)] == []
    foreign = [url for url in Page(path).fetched
               if not any(claims(pattern, host_of(url)) for pattern in own)]
    assert foreign == [], "the page fetches from another service or an unrelated host"


def test_the_manifest_lists_every_ordinary_page_as_untouched() -> None:
    assert sorted(f"ordinary/{path.name}" for path in ORDINARY_PAGES) == ORDINARY
    assert {entry["expect"] for entry in MANIFEST["ordinary"]} == {"untouched"}
    assert len(ORDINARY) >= 12


@pytest.mark.parametrize("path", ORDINARY_PAGES, ids=lambda path: path.stem)
def test_an_ordinary_page_says_what_it_guards_and_names_no_catalogued_host(
        path: Path, catalogue: dict[str, dict[str, Any]]) -> None:
    page = Page(path)
    assert page.first_comment().startswith("<!-- why: ")
    patterns = [pattern for service in catalogue.values() for pattern in service_hosts(service)]
    named = sorted({token for token in HOST_LIKE.findall(page.text.lower())
                    if any(claims(pattern, token) for pattern in patterns)})
    assert named == []
    assert page.fetched == [], "an ordinary page fetches only from its own origin"
