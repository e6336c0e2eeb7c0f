"""Markup in the site owner's texts is shown as text, never run: every English banner and
category text of the config is an injection attempt, and a real Chromium opens the banner,
its second layer, a held-back video's placeholder (on a real upstream) and the no-JS
preferences page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page

from tests.conftest import LiveServer
from tests.core.test_config import example, write_config
from tests.support.browser import chromium
from tests.support.sample_site import blocking_rules, sample_site

pytestmark = pytest.mark.browser

# Each fits the shortest text field (40 characters) and runs if inserted as markup.
VECTORS = (
    "<img src=x onerror=alert({n})>",
    "<svg onload=alert({n})>",
    "<script>alert({n})</script>",
    "</script><script>alert({n})</script>",
    '"><img src=x onerror=alert({n})>',
)


def hostile(n: int) -> str:
    return VECTORS[n % len(VECTORS)].format(n=n)


def hostile_config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The example config with every English text replaced; returns the file and what each
    text became (field name -> text)."""
    document: dict[str, Any] = example()
    shown: dict[str, str] = {}
    texts = document["banner"]["texts"]["en"]
    for n, field in enumerate(sorted(texts), start=1):
        keep = "{host} {category}" if "{" in texts[field] else ""
        texts[field] = hostile(n)[: 40 - len(keep)] + keep if keep else hostile(n)
        shown[f"banner.{field}"] = texts[field]
    for offset, (name, category) in enumerate(sorted(document["categories"].items())):
        for field in ("title", "description"):
            n = 100 + 2 * offset + (field == "description")
            category["texts"]["en"][field] = hostile(n)
            shown[f"{name}.{field}"] = hostile(n)
    return write_config(tmp_path, document), shown


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def hostile_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    path, shown = hostile_config(tmp_path)
    with sample_site() as port:
        server = LiveServer(tmp_path, "--config", str(path), "--upstream",
                            f"http://127.0.0.1:{port}",
                            env={"GATEWAY_BLOCKING_RULES": blocking_rules(port)}).start()
        yield server, shown
        server.stop()


def english_page(browser: Browser, alerts: list[str]) -> Page:
    context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()

    def refuse(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    return page


def injected_elements(page: Page) -> int:
    """Elements only an injection could have made: `<img src=x>`, `<svg onload>`, and
    inline scripts calling alert."""
    return int(page.evaluate("""() =>
        document.querySelectorAll('img[src="x"], svg[onload]').length +
        [...document.scripts].filter(s => s.textContent.includes('alert(')).length"""))


def test_hostile_banner_and_category_texts_are_shown_as_text(
    browser: Browser, hostile_server: tuple[LiveServer, dict[str, str]]
) -> None:
    server, shown = hostile_server
    alerts: list[str] = []
    page = english_page(browser, alerts)
    page.goto(server.url + "/")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert shown["banner.title"] in dialog.inner_text()
    assert shown["banner.body"] in dialog.inner_text()
    page.get_by_role("button", name=shown["banner.settings"]).click()
    second_layer = page.get_by_role("dialog").inner_text()
    for name in ("preferences", "analytics", "marketing"):
        assert shown[f"{name}.title"] in second_layer
        assert shown[f"{name}.description"] in second_layer
    page.get_by_role("button", name=shown["banner.reject_all"]).click()
    placeholder = page.locator("[data-consent-placeholder='marketing']")
    assert shown["banner.load_once"] in placeholder.inner_text()
    assert shown["banner.embed_blocked"].split("{")[0] in placeholder.inner_text()
    assert injected_elements(page) == 0
    assert alerts == []
    page.context.close()


def test_hostile_texts_on_the_preferences_page_stay_text(
    browser: Browser, hostile_server: tuple[LiveServer, dict[str, str]]
) -> None:
    server, shown = hostile_server
    alerts: list[str] = []
    page = english_page(browser, alerts)
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    page.route("**/*.js", lambda route: route.abort())  # as a visitor without scripts
    page.goto(server.url + "/_consent/preferences")
    text = page.locator("body").inner_text()
    for key in ("banner.title", "banner.save", "analytics.title", "analytics.description"):
        assert shown[key] in text, key
    assert injected_elements(page) == 0
    assert alerts == []
    page.context.close()
