"""Browser and OS family from a user-agent string, via ua-parser (which caches results)."""

from __future__ import annotations

from typing import Final

import ua_parser

MAX_USER_AGENT: Final = 512


def browser_and_os(user_agent: str | None) -> str:
    """`Firefox / Ubuntu`: families only, no versions, so the log holds no fingerprint."""
    if not user_agent:
        return "Other / Other"
    text = user_agent[:MAX_USER_AGENT]
    browser = ua_parser.parse_user_agent(text)
    system = ua_parser.parse_os(text)
    browser_family = browser.family if browser else "Other"
    os_family = system.family if system else "Other"
    return f"{browser_family} / {os_family}"
