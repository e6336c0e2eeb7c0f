"""GeoIP lookups (gateway/adapters/geo.py) against MaxMind's real-format test databases: the full
address finds a place, only country/region/city come back, and nothing ever raises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from gateway.adapters.geo import (
    GeoDetail,
    GeoIPDatabase,
    NoGeoLookup,
    _country_code,
    open_geo_lookup,
)
from gateway.core.analytics.events import Location
from gateway.core.errors import ConfigError
from tests.conftest import GEOIP_DIR

CITY_DB = GEOIP_DIR / "GeoLite2-City-Test.mmdb"
COUNTRY_DB = GEOIP_DIR / "GeoLite2-Country-Test.mmdb"
CONFIG_KEY = "analytics.geoip_database"


def open_db(path: Path, detail: GeoDetail) -> Iterator[GeoIPDatabase]:
    if not path.is_file():
        pytest.fail(f"{path} is missing: the GeoIP test databases live in tests/data/geoip")
    db = GeoIPDatabase(path, detail=detail)
    yield db
    db.close()


@pytest.fixture
def city_db() -> Iterator[GeoIPDatabase]:
    yield from open_db(CITY_DB, "city")


@pytest.fixture
def region_db() -> Iterator[GeoIPDatabase]:
    yield from open_db(CITY_DB, "region")


@pytest.fixture
def country_detail_db() -> Iterator[GeoIPDatabase]:
    yield from open_db(CITY_DB, "country")


@pytest.fixture
def country_only_db() -> Iterator[GeoIPDatabase]:
    yield from open_db(COUNTRY_DB, "city")


def test_a_london_address_is_in_england_and_in_london_with_city_detail(
    city_db: GeoIPDatabase,
) -> None:
    assert city_db.locate("81.2.69.142") == Location("GB", "ENG", "London")


def test_region_detail_keeps_the_subdivision_but_not_the_city(region_db: GeoIPDatabase) -> None:
    assert region_db.locate("81.2.69.142") == Location("GB", "ENG")


def test_country_detail_keeps_only_the_country(country_detail_db: GeoIPDatabase) -> None:
    assert country_detail_db.locate("81.2.69.142") == Location("GB")


def test_the_truncated_address_is_not_found_so_lookups_need_the_full_one(
    city_db: GeoIPDatabase,
) -> None:
    assert city_db.locate("81.2.69.0") == Location()


def test_the_first_and_largest_subdivision_is_the_region(city_db: GeoIPDatabase) -> None:
    # 2.125.160.216 lies in ENG and, within it, WBK (West Berkshire).
    assert city_db.locate("2.125.160.216") == Location("GB", "ENG", "Boxford")


def test_an_ipv6_address_without_subdivision_gives_the_country_alone(
    city_db: GeoIPDatabase,
) -> None:
    assert city_db.locate("2a02:cfc0::1") == Location("FR")


def test_an_ipv4_mapped_ipv6_address_is_looked_up_as_ipv4(region_db: GeoIPDatabase) -> None:
    assert region_db.locate("::ffff:81.2.69.142") == Location("GB", "ENG")


@pytest.mark.parametrize(
    "address",
    ["not an address", "", "81.2.69.142:443", "999.2.69.142", "81.2.69.142" + " " * 100],
)
def test_a_string_that_is_not_an_address_has_no_location(
    city_db: GeoIPDatabase, address: str
) -> None:
    assert city_db.locate(address) == Location()


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "fe80::1", "::ffff:10.0.0.1"]
)
def test_a_private_or_loopback_address_has_no_location(
    city_db: GeoIPDatabase, address: str
) -> None:
    assert city_db.locate(address) == Location()


def test_a_country_database_gives_the_country_even_when_cities_are_asked_for(
    country_only_db: GeoIPDatabase,
) -> None:
    assert country_only_db.locate("2.125.160.216") == Location("GB")


@pytest.mark.parametrize("code", ["EU", "AP", "A1", "A2", "O1", "XX", "ZZ", "", None, "GBR"])
def test_a_placeholder_or_malformed_country_code_is_dropped(code: str | None) -> None:
    assert _country_code(code) == ""


def test_a_lookup_on_a_closed_database_gives_no_location_instead_of_raising() -> None:
    db = GeoIPDatabase(CITY_DB, detail="city")
    db.close()
    assert db.locate("81.2.69.142") == Location()


def test_a_missing_database_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        GeoIPDatabase(tmp_path / "GeoLite2-City.mmdb", detail="region")
    assert [problem.key for problem in raised.value.problems] == [CONFIG_KEY]
    assert "no such file" in str(raised.value)


def test_a_file_that_is_not_a_maxmind_database_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "GeoLite2-City.mmdb"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(ConfigError, match="not a MaxMind DB") as raised:
        GeoIPDatabase(path, detail="region")
    assert raised.value.problems[0].key == CONFIG_KEY


def test_a_database_without_locations_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GeoLite2-ASN database"):
        GeoIPDatabase(GEOIP_DIR / "GeoLite2-ASN-Test.mmdb", detail="country")


def test_without_a_database_nobody_is_anywhere() -> None:
    assert NoGeoLookup().locate("81.2.69.142") == Location()


@pytest.mark.parametrize(("path", "detail"), [(None, "city"), ("", "city"), (CITY_DB, "none")])
def test_no_database_or_no_detail_configured_means_no_lookup(
    path: Path | str | None, detail: GeoDetail | Literal["none"]
) -> None:
    assert isinstance(open_geo_lookup(path, detail=detail), NoGeoLookup)


def test_a_configured_database_is_opened_for_lookups() -> None:
    lookup = open_geo_lookup(str(CITY_DB), detail="country")
    try:
        assert lookup.locate("89.160.20.112") == Location("SE")
    finally:
        lookup.close()
