"""A real application behind a real gateway: Django's admin (django.contrib.admin, from
PyPI) served by uvicorn on its own port, `consent-gateway serve --upstream` in front of it,
driven over HTTP and in Chromium. Django accepts only the public host (`localhost`), so
every request it answers proves the visitor's Host crossed the proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from tests.conftest import LiveServer
from tests.support.browser import chromium, logged_actions
from tests.support.django_upstream.seed import BOOKS, PASSWORD, USERNAME
from tests.support.django_upstream.server import DjangoUpstream, django_upstream

PUBLIC_HOST = "localhost"
# Django's own cookies: the gateway's catalogue of framework cookies classifies them necessary.
DJANGO_COOKIES = ("csrftoken", "sessionid", "messages")
ALLOWED_COOKIES = {"consent", *DJANGO_COOKIES}
# Response headers that can send the visitor somewhere.
LEADING_HEADERS = ("location", "content-location", "refresh", "link")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-application")


@pytest.fixture(scope="module")
def upstream(folder: Path) -> Iterator[DjangoUpstream]:
    with django_upstream(folder / "django", PUBLIC_HOST) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(folder: Path, upstream: DjangoUpstream) -> Iterator[LiveServer]:
    server = LiveServer(folder, "--upstream", upstream.url).start()
    yield server
    server.stop()


def public_origin(gateway: LiveServer) -> str:
    return f"http://{PUBLIC_HOST}:{gateway.port}"


def logs(upstream: DjangoUpstream, gateway: LiveServer) -> str:
    return (f"--- Django:\n{upstream.log.read_text(errors='replace')}\n"
            f"--- gateway:\n{gateway.log.read_text(errors='replace')}")


# ------------------------------------------------------------------------------ over HTTP


def test_django_refuses_any_host_but_the_public_one(upstream: DjangoUpstream) -> None:
    """The premise: asked under its own address, the upstream answers 400."""
    assert httpx.get(upstream.url + "/admin/login/").status_code == 400
    public = httpx.get(upstream.url + "/admin/login/", headers={"Host": PUBLIC_HOST})
    assert public.status_code == 200


def test_django_sees_the_visitors_host_and_who_asked(
    gateway: LiveServer, upstream: DjangoUpstream
) -> None:
    origin = public_origin(gateway)
    response = httpx.get(origin + "/echo/")
    assert response.status_code == 200, logs(upstream, gateway)
    seen = response.json()
    host = f"{PUBLIC_HOST}:{gateway.port}"
    assert seen["HTTP_HOST"] == host
    assert seen["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_PROTO"] == "http"
    assert seen["HTTP_X_FORWARDED_HOST"] == host
    assert seen["HTTP_FORWARDED"] == f'for=127.0.0.1;proto=http;host="{host}"'  # RFC 7239
    assert seen["absolute_uri"] == origin + "/admin/"  # Django's own links name the gateway


def test_the_applications_redirects_stay_on_the_gateway(
    gateway: LiveServer, upstream: DjangoUpstream
) -> None:
    origin = public_origin(gateway)
    with httpx.Client(base_url=origin, follow_redirects=True) as client:
        for path, status, target in [("/admin", 301, "/admin/"),
                                     ("/admin/", 302, "/admin/login/?next=/admin/")]:
            response = client.get(path)
            assert response.status_code == 200, logs(upstream, gateway)
            hop = response.history[0]
            assert hop.status_code == status
            assert urljoin(origin + path, hop.headers["location"]) == origin + target
            assert str(response.url).startswith(origin + "/admin/")


# ---------------------------------------------------------------------------- in Chromium


class Traffic:
    """Everything the browser asked for, landed on and was answered, and every link, form
    and resource each page named."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.navigations: list[str] = []
        self.responses: list[Response] = []
        self.links: set[str] = set()
        self.pages: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("response", lambda response: self.responses.append(response))
        page.on("framenavigated", lambda frame: self.navigations.append(frame.url))

    def read_page(self) -> None:
        self.pages.append(self.page.content())
        self.links.update(self.page.evaluate("""() => {
            const urls = [];
            for (const [attr, sel] of [["href", "[href]"], ["src", "[src]"],
                                       ["action", "form[action]"]])
                for (const el of document.querySelectorAll(sel))
                    urls.push(new URL(el.getAttribute(attr), document.baseURI).href);
            return urls;
        }"""))

    def headers(self) -> list[tuple[Response, str, str]]:
        return [(response, header["name"].lower(), header["value"])
                for response in self.responses for header in response.headers_array()]


def off_the_gateway(urls: list[str] | set[str], origin: str) -> list[str]:
    return sorted({url for url in urls
                   if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                   and not (url == origin or url.startswith(origin + "/"))})


def targets(name: str, value: str) -> list[str]:
    """The URLs a Location, Content-Location, Refresh or Link header sends the browser to."""
    if name == "refresh":
        return re.findall(r"""(?i)\burl\s*=\s*['"]?([^'"\s;]+)""", value)
    if name == "link":
        return re.findall(r"<([^>]*)>", value)
    return [value]


def rows(page: Page) -> list[str]:
    """The titles in the change list (the first column: a link to the book)."""
    return [title.strip() for title in page.locator("#result_list tbody th").all_inner_texts()]


@pytest.mark.browser
def test_the_admin_works_through_the_gateway_and_nothing_leads_past_it(
    gateway: LiveServer, upstream: DjangoUpstream, folder: Path
) -> None:
    origin = public_origin(gateway)
    changelist = origin + "/admin/django_upstream/book/"
    with chromium() as browser:
        context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
        page = context.new_page()
        traffic = Traffic(page)
        try:
            # Redirected to the log-in page; the banner asks first.
            page.goto(origin + "/admin/")
            expect(page).to_have_url(origin + "/admin/login/?next=/admin/")
            traffic.read_page()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="Reject all").click()
            expect(dialog).to_be_hidden()

            # Log in: a CSRF-protected POST, then a redirect.
            page.get_by_label("Username:").fill(USERNAME)
            page.get_by_label("Password:").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(origin + "/admin/")
            expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
            assert {"sessionid", "csrftoken"} <= {c["name"] for c in context.cookies()}
            traffic.read_page()

            # The change list, five to a page: pages 1, 2, 3.
            page.locator("#content-main").get_by_role("link", name="Books").click()
            expect(page).to_have_url(changelist)
            expect(page.locator(".paginator")).to_contain_text(f"{BOOKS} books")
            assert rows(page) == ["Book 23", "Book 22", "Book 21", "Book 20", "Book 19"]
            traffic.read_page()
            for number, first in [(2, "Book 18"), (3, "Book 13")]:
                page.locator(".paginator").get_by_role("link", name=str(number),
                                                       exact=True).click()
                expect(page).to_have_url(f"{changelist}?p={number}")
                expect(page.locator("#result_list tbody tr").first).to_contain_text(first)
                assert len(rows(page)) == 5
                traffic.read_page()

            # Add a book: a form POST answered with a redirect back to page 3 (the admin
            # keeps the list's place), where the message says it was saved; page 1 shows it.
            page.get_by_role("link", name="Add book").click()
            expect(page).to_have_url(changelist + "add/?_changelist_filters=p%3D3")
            traffic.read_page()
            page.get_by_label("Title:").fill("Written through the gateway")
            page.get_by_label("Year:").fill("2026")
            page.get_by_role("button", name="Save", exact=True).click()
            expect(page).to_have_url(changelist + "?p=3")
            expect(page.locator(".messagelist")).to_contain_text("was added successfully")
            expect(page.locator(".paginator")).to_contain_text(f"{BOOKS + 1} books")
            traffic.read_page()
            page.locator(".paginator").get_by_role("link", name="1", exact=True).click()
            expect(page).to_have_url(re.compile(re.escape(changelist) + r"(\?p=1)?$"))
            assert rows(page)[0] == "Written through the gateway"
            traffic.read_page()

            # Edit it.
            page.get_by_role("link", name="Written through the gateway").click()
            expect(page.get_by_label("Title:")).to_have_value("Written through the gateway")
            traffic.read_page()
            page.get_by_label("Title:").fill("Edited through the gateway")
            page.get_by_role("button", name="Save", exact=True).click()
            expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
            expect(page).to_have_url(re.compile(re.escape(changelist) + r"(\?p=1)?$"))
            assert rows(page)[0] == "Edited through the gateway"
            traffic.read_page()

            # Log out (a POST too).
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(origin + "/admin/logout/")
            expect(page.get_by_role("heading", name="Logged out")).to_be_visible()
            traffic.read_page()

            jar = {c["name"] for c in context.cookies()}
            headers = traffic.headers()
        finally:
            context.close()

    assert traffic.errors == []  # neither the admin's scripts nor the banner's failed
    upstream_netloc = urlsplit(upstream.url).netloc
    # Every URL the browser asked for or landed on, every link it was shown: the gateway's.
    assert off_the_gateway(traffic.requests, origin) == []
    assert off_the_gateway([u for u in traffic.navigations if u != "about:blank"], origin) == []
    assert off_the_gateway(traffic.links, origin) == []
    assert not [html for html in traffic.pages if upstream_netloc in html]
    # Every Location, Content-Location, Refresh and Link: the gateway's too.
    leading = [(response.url, name, value) for response, name, value in headers
               if name in LEADING_HEADERS]
    assert ("location", "/admin/login/?next=/admin/") in [(n, v) for _, n, v in leading]
    assert not [h for h in leading if upstream_netloc in h[2]]
    assert off_the_gateway({urljoin(url, target) for url, name, value in leading
                            for target in targets(name, value)}, origin) == []
    # The redirects after POST were followed on the gateway.
    redirected_posts = [urlsplit(r.url).path for r in traffic.responses
                        if r.request.method == "POST" and r.status == 302]
    assert redirected_posts == ["/admin/login/", "/admin/django_upstream/book/add/",
                                f"/admin/django_upstream/book/{BOOKS + 1}/change/"]
    # Only the consent cookie and Django's necessary cookies were ever set.
    set_cookies = {value.split("=", 1)[0].strip() for _, name, value in headers
                   if name == "set-cookie"}
    assert set_cookies <= ALLOWED_COOKIES and "messages" in set_cookies
    assert jar <= ALLOWED_COOKIES and "consent" in jar
    assert [action for action, _, _ in logged_actions(folder)] == ["reject_all"]
