"""The dashboard's card for the last consent scan (`consent-gateway scan --save`): shown when
one was saved next to the database, escaped, in the dashboard's language."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.adapters.scanner import save_last_scan
from gateway.core.scan.findings import Observation, PageSeen
from gateway.services.wiring import Services
from tests.core.scan.scans import cookie, scan
from tests.web.admin import test_dashboard as dashboard_tests
from tests.web.admin.test_dashboard import ADMIN, AUTH

HOSTILE = "<script>alert(1)</script>"


# The dashboard tests' gateway and admin client, fixture and all.
admin = dashboard_tests.admin


async def test_without_a_saved_scan_there_is_no_card(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    _, client = admin
    page = await client.get(ADMIN + "?lang=en", headers=AUTH)
    assert page.status_code == 200
    assert "Last consent scan" not in page.text


async def test_the_last_scan_is_shown_with_its_problems_escaped(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    services, client = admin
    report = scan(
        Observation("before", requests=(("https://xxx.example/a.js", "script"),),
                    cookies=(cookie(HOSTILE),)),
        banner=False, pages=(PageSeen(f"https://shop.example/?q={HOSTILE}", HOSTILE),))
    save_last_scan(services.config.storage.path, report)
    page = (await client.get(ADMIN + "?lang=en", headers=AUTH)).text
    assert "Last consent scan" in page
    assert "Failed: 2 thing(s) not necessary" in page
    assert "not recorded: no banner found" in page
    assert "Before any decision: request to xxx.example (Unknown)" in page
    assert "cookie &lt;script&gt;alert(1)&lt;/script&gt; (Unknown)" in page
    assert HOSTILE not in page


async def test_the_card_speaks_dutch_on_the_dutch_dashboard(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    services, client = admin
    save_last_scan(services.config.storage.path,
                   scan(Observation("before"), Observation("rejected"), Observation("accepted")))
    page = (await client.get(ADMIN + "?lang=nl", headers=AUTH)).text
    assert "Laatste toestemmingsscan" in page
    assert "Geslaagd: vóór een keuze en na een weigering" in page


async def test_a_damaged_file_shows_no_card_and_no_error(
    admin: tuple[Services, httpx.AsyncClient],
) -> None:
    services, client = admin
    (Path(services.config.storage.path).parent / "last-scan.json").write_text("{not json")
    page = await client.get(ADMIN + "?lang=en", headers=AUTH)
    assert page.status_code == 200
    assert "Last consent scan" not in page.text
