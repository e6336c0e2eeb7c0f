"""The cookie inventory in memory (gateway/core/enforcement/inventory.py): cookies the upstream
sets, cookies page scripts write, and where each category came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.enforcement.inventory import MAX_SCRIPT_NAMES, CookieInventory

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GA = Classification("analytics", "catalogue", "_ga_*", "Google Analytics")
UNKNOWN = Classification(None, "unknown")


def carried(inventory: CookieInventory, *, site: str, name: str,
            classification: Classification, now: datetime) -> None:
    """One request carrying one cookie."""
    inventory.observe_request_cookies(site=site, names=[name],
                                      classify=lambda _: classification, now=now)


def test_a_set_cookie_is_recorded_with_the_source_of_its_category() -> None:
    inventory = CookieInventory()
    inventory.observe(site="demo", header_value="_ga_X=1; Path=/; Domain=.shop.example",
                      classification=GA, now=NOW)
    [row] = inventory.drain()
    assert (row.name, row.category, row.source, row.set_by) == (
        "_ga_X", "analytics", "catalogue", "server")
    assert (row.path, row.domain, row.count) == ("/", ".shop.example", 1)


def test_a_cookie_never_seen_set_is_recorded_as_a_scripts_per_request() -> None:
    inventory = CookieInventory()
    for minutes in range(3):
        carried(inventory, site="demo", name="_ga_X", classification=GA,
                                         now=NOW + timedelta(minutes=minutes))
    [row] = inventory.drain()
    assert (row.set_by, row.source, row.category, row.count) == (
        "script", "catalogue", "analytics", 3)
    assert (row.first_seen, row.last_seen) == (NOW, NOW + timedelta(minutes=2))
    assert inventory.location("demo", "_ga_X") is None


def test_a_cookie_the_upstream_set_is_not_taken_for_a_scripts() -> None:
    inventory = CookieInventory()
    inventory.observe(site="demo", header_value="sessionid=s; Path=/app",
                      classification=Classification("necessary", "database"), now=NOW)
    inventory.drain()
    carried(inventory, site="demo", name="sessionid",
                                     classification=UNKNOWN, now=NOW)
    assert inventory.drain() == []
    # The same name on another site is that site's own question.
    carried(inventory, site="shop", name="sessionid", classification=UNKNOWN,
                                     now=NOW)
    assert [row.set_by for row in inventory.drain()] == ["script"]


def test_a_script_cookie_later_set_by_the_upstream_becomes_the_servers() -> None:
    inventory = CookieInventory()
    carried(inventory, site="demo", name="cart", classification=UNKNOWN, now=NOW)
    inventory.observe(site="demo", header_value="cart=1; Path=/shop; HttpOnly",
                      classification=UNKNOWN, now=NOW)
    [row] = inventory.drain()
    assert (row.set_by, row.path, row.http_only, row.count) == ("server", "/shop", True, 1)


def test_stored_rows_teach_which_cookies_the_upstream_sets() -> None:
    inventory = CookieInventory()
    inventory.remember([
        SeenCookie("demo", "sessionid", "necessary", NOW, NOW, 5, "/", "", True),
        SeenCookie("demo", "_ga", "analytics", NOW, NOW, 5, "/", "", False, set_by="script"),
    ])
    for name in ("sessionid", "_ga"):
        carried(inventory, site="demo", name=name, classification=GA, now=NOW)
    assert [row.name for row in inventory.drain()] == ["_ga"]
    assert inventory.location("demo", "sessionid") == ("/", "")


def test_made_up_request_cookies_cannot_crowd_out_the_upstreams() -> None:
    inventory = CookieInventory()
    for n in range(MAX_SCRIPT_NAMES + 50):
        carried(inventory, site="demo", name=f"junk{n}", classification=UNKNOWN,
                                         now=NOW)
    carried(inventory, site="demo", name="x" * 300, classification=UNKNOWN,
                                     now=NOW)
    inventory.observe(site="demo", header_value="sessionid=s", classification=UNKNOWN, now=NOW)
    rows = inventory.drain()
    assert sum(row.set_by == "script" for row in rows) == MAX_SCRIPT_NAMES
    assert "sessionid" in {row.name for row in rows}
