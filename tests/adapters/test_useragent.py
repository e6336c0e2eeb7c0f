"""User agents reduced to families (gateway/adapters/useragent.py): real strings from real browsers,
crawlers and scripts; people are counted, bots are recognised, look-alikes are not."""

from __future__ import annotations

import pytest

from gateway.adapters.useragent import MAX_USER_AGENT, _describe, browser_and_os, describe_agent
from gateway.core.analytics.events import Agent, Device

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)
FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAMSUNG_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID_TABLET = "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0"
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
CHROME_OS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 12; CUBOT P80) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
CUBOT_PHONE_UNDERSCORE = (
    "Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/88.0.4324.152 Mobile Safari/537.36"
)
FIRE_TV = (
    "Mozilla/5.0 (Linux; Android 9; AFTKA Build/PS7633.3445N) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/114.0.5735.196 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
LIGHTHOUSE = (
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"
)
FACEBOOK_PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"

PEOPLE = [
    CHROME_WINDOWS, SAFARI_IPHONE, SAFARI_IPAD, SAFARI_MAC, FIREFOX_UBUNTU, SAMSUNG_PHONE,
    CHROME_ANDROID_TABLET, FIREFOX_ANDROID_TABLET, EDGE_WINDOWS, CHROME_OS, CUBOT_PHONE,
    CUBOT_PHONE_UNDERSCORE,
]
BOTS = [
    GOOGLEBOT, GOOGLEBOT_SMARTPHONE, BINGBOT, GPTBOT, HEADLESS_CHROME, LIGHTHOUSE,
    FACEBOOK_PREVIEW, "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3",
    "python-httpx/0.28.1", "Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.2",
    "Apache-HttpClient/4.5.14 (Java/17.0.2)",
]


@pytest.mark.parametrize(
    ("user_agent", "browser", "os"),
    [
        (CHROME_WINDOWS, "Chrome", "Windows"),
        (SAFARI_IPHONE, "Mobile Safari", "iOS"),
        (SAFARI_IPAD, "Mobile Safari", "iOS"),
        (FIREFOX_UBUNTU, "Firefox", "Ubuntu"),
        (SAMSUNG_PHONE, "Samsung Internet", "Android"),
        (EDGE_WINDOWS, "Edge", "Windows"),
        (CHROME_OS, "Chrome", "Chrome OS"),
    ],
)
def test_a_browser_is_named_by_its_family_and_its_system(
    user_agent: str, browser: str, os: str
) -> None:
    agent = describe_agent(user_agent)
    assert (agent.browser, agent.os) == (browser, os)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (CHROME_WINDOWS, "desktop"),
        (SAFARI_MAC, "desktop"),
        (FIREFOX_UBUNTU, "desktop"),
        (CHROME_OS, "desktop"),
        (SAFARI_IPHONE, "mobile"),
        (SAMSUNG_PHONE, "mobile"),
        (CUBOT_PHONE, "mobile"),
        (SAFARI_IPAD, "tablet"),
        (CHROME_ANDROID_TABLET, "tablet"),
        (FIREFOX_ANDROID_TABLET, "tablet"),
        (FIRE_TV, "other"),
        ("curl/8.5.0", "other"),
    ],
)
def test_a_device_is_a_desktop_a_phone_a_tablet_or_other(user_agent: str, device: Device) -> None:
    assert describe_agent(user_agent).device == device


@pytest.mark.parametrize("user_agent", PEOPLE)
def test_a_real_browser_is_not_a_bot(user_agent: str) -> None:
    assert describe_agent(user_agent).bot is False


@pytest.mark.parametrize("user_agent", BOTS)
def test_a_crawler_a_headless_browser_or_a_script_is_a_bot(user_agent: str) -> None:
    assert describe_agent(user_agent).bot is True


@pytest.mark.parametrize("user_agent", [None, "", "   "])
def test_a_missing_user_agent_is_a_bot_of_unknown_family(user_agent: str | None) -> None:
    assert describe_agent(user_agent) == Agent(bot=True)


def test_the_description_holds_no_version() -> None:
    assert "131" not in repr(describe_agent(CHROME_WINDOWS))


def test_a_huge_user_agent_is_cut_before_it_is_parsed_or_cached() -> None:
    _describe.cache_clear()
    head = CHROME_WINDOWS + " x" * MAX_USER_AGENT
    assert describe_agent(head + "A" * 100_000).browser == "Chrome"
    describe_agent(head + "B" * 100_000)
    assert (_describe.cache_info().currsize, _describe.cache_info().hits) == (1, 1)


def test_the_same_user_agent_is_parsed_once() -> None:
    _describe.cache_clear()
    first = describe_agent(SAFARI_IPHONE)
    second = describe_agent(SAFARI_IPHONE)
    assert first is second
    assert _describe.cache_info().hits == 1


def test_the_consent_log_form_still_names_browser_and_system() -> None:
    assert browser_and_os(FIREFOX_UBUNTU) == "Firefox / Ubuntu"
