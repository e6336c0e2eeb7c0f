"""Browser, OS and device family from a user-agent string, via ua-parser (adapter).

Only families leave this module, never versions or the string itself, so nothing stored
can serve as a fingerprint. ua-parser's pure-Python matcher costs most of a millisecond a
string; a small cache in front of it makes the common case (the same few browsers over and
over) nearly free.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import ua_parser

from gateway.core.analytics.events import Agent, Device

MAX_USER_AGENT: Final = 512
AGENT_CACHE_SIZE: Final = 4096

# Automation and crawlers that ua-parser does not call "Spider". Each marker must match as
# a word (or a product token ending in "/"), so that a phone named "CUBOT P80" or a
# browser mentioning "robotics" is not a bot.
BOT_MARKERS: Final = re.compile(
    r"(?<!cu)bots?\b"               # Googlebot, bingbot, AhrefsBot, "robot" — not Cubot
    r"|crawl|spider|slurp"
    r"|headless|phantomjs|lighthouse|puppeteer|playwright|selenium|webdriver"
    r"|\bcurl/|\bwget/|python-requests|python-httpx|python-urllib|\baiohttp|scrapy"
    r"|go-http-client|\bjava/|okhttp|libwww-perl|httpclient|node-fetch|\baxios/"
    r"|facebookexternalhit|preview\b"
    r"|\+https?://",                # a contact URL: crawlers sign, browsers never do
    re.IGNORECASE,
)
# Televisions and consoles browse too; counting them as desktops would mislead.
OTHER_DEVICE_MARKERS: Final = re.compile(
    r"smart-?tv|\btv\b|crkey|bravia|web0s|hbbtv|(?-i:\bAFT[A-Z])|xbox|playstation|nintendo",
    re.IGNORECASE,
)
# Firefox on Android tablets says "Tablet"; Windows' "Tablet PC" token is any old laptop.
TABLET_MARKERS: Final = re.compile(r"\btablet\b(?! pc)", re.IGNORECASE)
MOBILE_SYSTEMS: Final = frozenset(
    {"iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS", "Firefox OS", "Tizen"}
)
DESKTOP_SYSTEMS: Final = frozenset(
    {
        "Windows", "Mac OS X", "Linux", "Ubuntu", "Kubuntu", "Debian", "Fedora", "Red Hat",
        "CentOS", "Linux Mint", "Arch Linux", "openSUSE", "SUSE", "Gentoo", "Mageia",
        "Slackware", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris",
    }
)
NO_AGENT: Final = Agent(bot=True)


def browser_and_os(user_agent: str | None) -> str:
    """`Firefox / Ubuntu`: families only, no versions, so the log holds no fingerprint."""
    agent = describe_agent(user_agent)
    return f"{agent.browser} / {agent.os}"


def describe_agent(user_agent: str | None) -> Agent:
    """Families, device class and whether a person is likely behind it.

    No user agent at all counts as a bot: every browser sends one, scripts often do not.
    """
    if not user_agent or user_agent.isspace():
        return NO_AGENT
    return _describe(user_agent[:MAX_USER_AGENT])


@lru_cache(maxsize=AGENT_CACHE_SIZE)
def _describe(text: str) -> Agent:
    """Cached on the capped string, so a flood of long random strings costs bounded memory."""
    result = ua_parser.parse(text)
    browser = result.user_agent.family if result.user_agent else "Other"
    system = result.os.family if result.os else "Other"
    device = result.device.family if result.device else "Other"
    return Agent(
        browser=browser,
        os=system,
        device=_device_class(text, system, device),
        bot=device == "Spider" or BOT_MARKERS.search(text) is not None,
    )


def _device_class(text: str, system: str, device: str) -> Device:
    """Tablet, phone or desktop by the conventions browsers follow.

    Android phones say "Mobile" and Android tablets do not (Chrome, Samsung Internet,
    Firefox all keep to this); iPads since iPadOS 13 pose as Macs and count as desktops,
    which no server can tell apart.
    """
    if OTHER_DEVICE_MARKERS.search(text):
        return "other"
    if device == "iPad" or device.startswith("Kindle") or TABLET_MARKERS.search(text):
        return "tablet"
    if system == "Android":
        return "mobile" if "Mobile" in text else "tablet"
    if system in MOBILE_SYSTEMS or "Mobi" in text:
        return "mobile"
    if system in DESKTOP_SYSTEMS:
        return "desktop"
    return "other"
