"""The banner as a visitor meets it, in a real Chromium against a real `consent-gateway serve`.

Covers issue 3's list: the three equal choices, custom choice, withdraw from the floating
button, keyboard only, Dutch and English, GPC (header and navigator), revision re-ask,
Consent Mode in dataLayer, the no-JS preferences page, snippet mode from another origin,
axe-core on both layers and the preferences page, and no layout shift.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import LiveServer
from tests.support.browser import chromium, logged_actions, static_site

pytestmark = pytest.mark.browser
ALL = '["necessary", "preferences", "analytics", "marketing"]'
NONE = '["necessary"]'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def new_page(browser: Browser, language: str = "nl", **options: object) -> Page:
    headers = {"Accept-Language": language, **options.pop("headers", {})}  # type: ignore[dict-item]
    context: BrowserContext = browser.new_context(extra_http_headers=headers, **options)
    return context.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    tab = new_page(browser)
    yield tab
    tab.context.close()


def assert_no_axe_violations(page: Page, where: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"


def test_english_visitors_get_the_english_banner(browser: Browser,
                                                 live_server: LiveServer) -> None:
    tab = new_page(browser, "en-GB,en;q=0.9")
    tab.goto(live_server.url + "/")
    dialog = tab.get_by_role("dialog")
    for name in ("Accept all", "Reject all", "Settings"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    expect(dialog).to_contain_text("Cookies on this website")
    tab.context.close()


def test_dutch_visitors_get_the_dutch_banner(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    dialog = page.get_by_role("dialog")
    for name in ("Alles accepteren", "Alles weigeren", "Instellingen"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    expect(dialog.get_by_role("link", name="Privacyverklaring")).to_have_attribute(
        "href", "/privacy")


def test_withdraw_from_the_floating_button(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Alles accepteren").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.reload()
    page.get_by_role("button", name="Cookie-instellingen").click()
    page.get_by_role("button", name="Toestemming intrekken").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert logged_actions(tmp_path) == [("accept_all", "banner", ALL),
                                        ("withdraw", "banner", NONE)]


def test_keyboard_only_visitor_can_make_a_custom_choice(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    expect(page.get_by_role("dialog")).to_be_visible()
    for _ in range(40):  # Tab until the settings button has focus, wherever it sits
        if page.evaluate("document.activeElement.textContent") == "Instellingen":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the settings button cannot be reached with Tab")
    page.keyboard.press("Enter")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "cg-cat-preferences"  # focus moved into the second layer
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "cg-cat-analytics"
    page.keyboard.press("Space")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent") == "Keuze opslaan":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the save button cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert logged_actions(tmp_path) == [("custom", "banner", '["necessary", "analytics"]')]


def test_focus_is_trapped_in_the_settings_and_restored_by_escape(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Alles weigeren").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    footer_link = page.locator("footer a[data-consent-open]")
    footer_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    for _ in range(30):
        page.keyboard.press("Tab")
        inside = page.evaluate("!!document.activeElement.closest('.cg-banner')")
        assert inside, "focus left the open settings dialog"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("document.activeElement.hasAttribute('data-consent-open')")


def test_a_gpc_header_denies_marketing_and_an_explicit_choice_wins(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    tab = new_page(browser, headers={"Sec-GPC": "1"})
    tab.goto(live_server.url + "/")
    expect(tab.get_by_role("dialog")).to_be_visible()  # GPC decides marketing only
    assert logged_actions(tmp_path) == [("gpc", "gpc", NONE)]
    tab.get_by_role("button", name="Alles accepteren").click()
    expect(tab.get_by_role("dialog")).to_be_hidden()
    assert logged_actions(tmp_path)[-1] == ("accept_all", "banner", ALL)
    tab.context.close()


def test_navigator_global_privacy_control_is_reported(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    tab = new_page(browser)
    tab.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    tab.goto(live_server.url + "/")
    expect(tab.get_by_role("dialog")).to_be_visible()
    tab.wait_for_function("window.consentGateway && window.consentGateway.get() !== null")
    assert logged_actions(tmp_path) == [("gpc", "gpc", NONE)]
    tab.context.close()


def test_a_revision_bump_asks_again(browser: Browser, tmp_path: Path) -> None:
    tab = new_page(browser)
    first = LiveServer(tmp_path).start()
    try:
        tab.goto(first.url + "/")
        tab.get_by_role("button", name="Alles weigeren").click()
        expect(tab.get_by_role("dialog")).to_be_hidden()
        tab.reload()
        expect(tab.get_by_role("dialog")).to_be_hidden()
    finally:
        first.stop()
    bumped = LiveServer(tmp_path, env={"GATEWAY_SITES_DEMO_REVISION": "2"}).start()
    try:  # cookies ignore the port: the browser sends the revision-1 cookie here
        tab.goto(bumped.url + "/")
        expect(tab.get_by_role("dialog")).to_be_visible()
    finally:
        bumped.stop()
        tab.context.close()


def test_consent_mode_defaults_then_updates_in_the_data_layer(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/")
    expect(page.get_by_role("dialog")).to_be_visible()
    layer = page.evaluate("Array.from(window.dataLayer, entry => Array.from(entry))")
    default = next(e for e in layer if e[:2] == ["consent", "default"])
    assert default[2] == {
        "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
        "analytics_storage": "denied", "functionality_storage": "denied",
        "personalization_storage": "denied", "security_storage": "granted",
        "wait_for_update": 500,
    }
    page.get_by_role("button", name="Instellingen").click()
    page.locator("#cg-cat-analytics").check()
    page.get_by_role("button", name="Keuze opslaan").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    layer = page.evaluate("Array.from(window.dataLayer, entry => Array.from(entry))")
    update = [e for e in layer if e[:2] == ["consent", "update"]][-1]
    assert update[2] == {
        "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
        "analytics_storage": "granted", "functionality_storage": "denied",
        "personalization_storage": "denied", "security_storage": "granted",
    }


def test_without_javascript_the_preferences_page_does_everything(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    tab = new_page(browser, java_script_enabled=False)
    tab.goto(live_server.url + "/shop")
    tab.locator(".cg-noscript a").click()
    expect(tab).to_have_url(live_server.url + "/_consent/preferences?return_to=%2Fshop")
    tab.get_by_label("Statistieken").check()
    tab.get_by_role("button", name="Keuze opslaan").click()
    expect(tab).to_have_url(live_server.url + "/shop")
    names = {c["name"] for c in tab.context.cookies()}
    assert {"consent", "cart", "_ga"} <= names and "_fbp" not in names
    assert logged_actions(tmp_path) == [("custom", "preferences",
                                         '["necessary", "analytics"]')]
    tab.context.close()


def test_snippet_mode_works_from_another_origin(browser: Browser, tmp_path: Path) -> None:
    gateway = LiveServer(tmp_path)
    page_html = f"""<!doctype html><html lang="en"><head><title>Elsewhere</title>
<script src="{gateway.url.replace('127.0.0.1', 'localhost')}/_consent/consent.js"
 data-site="demo"></script></head><body><h1>A site not behind the gateway</h1>
<script type="text/plain" data-consent-category="analytics">
document.body.setAttribute("data-analytics", "ran");</script></body></html>"""
    with static_site(page_html) as origin:
        gateway.env["GATEWAY_SITES_DEMO_ORIGINS"] = origin
        gateway.start()
        tab = new_page(browser, "en")
        try:
            tab.goto(origin + "/")
            dialog = tab.get_by_role("dialog")
            expect(dialog).to_be_visible()
            dialog.get_by_role("button", name="Accept all").click()
            expect(dialog).to_be_hidden()
            expect(tab.locator("body")).to_have_attribute("data-analytics", "ran")
            stored = [c for c in tab.context.cookies(origin) if c["name"] == "cg_consent"]
            assert stored and stored[0]["domain"] == "127.0.0.1"  # kept first-party
            tab.reload()
            expect(tab.locator(".cg-reopen")).to_be_visible()
            expect(tab.get_by_role("dialog")).to_be_hidden()
            assert logged_actions(tmp_path) == [("accept_all", "banner", ALL)]
        finally:
            tab.context.close()
            gateway.stop()


def test_axe_finds_no_violations_on_either_layer_or_the_preferences_page(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_no_axe_violations(page, "first layer")
    page.get_by_role("button", name="Instellingen").click()
    assert_no_axe_violations(page, "second layer")
    page.goto(live_server.url + "/_consent/preferences")
    assert_no_axe_violations(page, "preferences page")


def test_the_banner_causes_no_layout_shift(page: Page, live_server: LiveServer) -> None:
    page.add_init_script("""
        window.__shift = 0;
        new PerformanceObserver(list => {
            for (const entry of list.getEntries()) window.__shift += entry.value;
        }).observe({type: "layout-shift", buffered: true});""")
    page.goto(live_server.url + "/")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shift") == 0


def test_the_banner_fits_a_320px_screen(browser: Browser, live_server: LiveServer) -> None:
    tab = new_page(browser, viewport={"width": 320, "height": 640})
    tab.goto(live_server.url + "/")
    expect(tab.get_by_role("dialog")).to_be_visible()
    tab.get_by_role("button", name="Instellingen").click()
    widths = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], json.dumps(widths)
    tab.context.close()
