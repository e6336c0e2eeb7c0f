"""Where a visitor is, from a MaxMind GeoLite2/GeoIP2 database (adapter).

The lookup needs the full address — its /24 is often in another network or in none — so
the address lives only in memory for the length of one call: it is never logged, stored
or cached here. Only what `Location` holds (country, and if configured subdivision and
city) leaves this module. No lookup ever raises: a location is a nicety, and an
analytics event must not be lost because a database is odd.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Final, Literal, Protocol

import geoip2.database
from geoip2.errors import AddressNotFoundError, GeoIP2Error
from geoip2.models import City, Country
from maxminddb import InvalidDatabaseError

from gateway.core.analytics.events import Location
from gateway.core.errors import ConfigError, ConfigProblem
from gateway.core.pseudonymise import IPAddress, parse_ip

GeoDetail = Literal["country", "region", "city"]

CONFIG_KEY: Final = "analytics.geoip_database"
# The longest textual IPv6 address (with an embedded IPv4 tail) is 45 characters; leave
# room for a zone id, refuse anything longer before parsing it.
MAX_ADDRESS_CHARS: Final = 64
# Codes MaxMind (and GeoIP Legacy before it) used for "not a country": continents,
# anonymous proxies, satellite providers, unknown. Stored, they would pose as countries.
PLACEHOLDER_COUNTRIES: Final = frozenset({"EU", "AP", "A1", "A2", "O1", "XX", "ZZ"})

log = logging.getLogger("consent_gateway.geo")


class GeoLookup(Protocol):
    """Swap point: the database in production, a fake or `NoGeoLookup` elsewhere."""

    def locate(self, address: str) -> Location: ...

    def close(self) -> None: ...


class NoGeoLookup:
    """No database configured: nobody is anywhere."""

    def locate(self, address: str) -> Location:
        return Location()

    def close(self) -> None:
        return None


class GeoIPDatabase:
    """A GeoLite2/GeoIP2 City, Enterprise or Country database, opened once and shared.

    A Country database answers only the country whatever `detail` asks for.
    """

    def __init__(self, path: str | os.PathLike[str], *, detail: GeoDetail) -> None:
        self._reader = _open_reader(path)
        self._detail: GeoDetail = detail
        self._warned = False
        try:
            self._lookup = _lookup_for(self._reader, self.database_type)
        except ConfigError:
            self._reader.close()
            raise

    @property
    def database_type(self) -> str:
        """`GeoLite2-City`, `GeoIP2-Country`, ...: what the file says it is."""
        return str(self._reader.metadata().database_type)

    def locate(self, address: str) -> Location:
        """Country (+ region, city per `detail`) of a full address; `Location()` if unknown."""
        ip = _public_address(address)
        if ip is None:
            return Location()
        try:
            record = self._lookup(ip)
        except AddressNotFoundError:
            return Location()
        except (GeoIP2Error, InvalidDatabaseError, ValueError, OSError) as exc:
            self._warn_once(exc)
            return Location()
        return _location(record, self._detail)

    def close(self) -> None:
        self._reader.close()

    def _warn_once(self, exc: Exception) -> None:
        # Only the error's class: its message may quote the address, which is not logged.
        if not self._warned:
            self._warned = True
            log.warning("GeoIP lookups fail (%s); locations are left empty", type(exc).__name__)


def open_geo_lookup(
    path: str | os.PathLike[str] | None, *, detail: GeoDetail | Literal["none"]
) -> GeoLookup:
    """The lookup the configuration asks for: none without a database or with detail `none`."""
    if not path or detail == "none":
        return NoGeoLookup()
    return GeoIPDatabase(path, detail=detail)


def _open_reader(path: str | os.PathLike[str]) -> geoip2.database.Reader:
    """Open the file or say, by its key, why the configuration cannot use it."""
    name = os.fspath(path)
    try:
        return geoip2.database.Reader(name)
    except FileNotFoundError:
        message = f"{name}: no such file (a GeoLite2 City or Country .mmdb is expected)"
    except (InvalidDatabaseError, IsADirectoryError, ValueError):
        message = f"{name}: not a MaxMind DB (.mmdb) file"
    except OSError as exc:
        message = f"{name}: cannot be read ({exc.strerror or type(exc).__name__})"
    raise ConfigError([ConfigProblem(CONFIG_KEY, message)])


def _lookup_for(
    reader: geoip2.database.Reader, database_type: str
) -> Callable[[IPAddress], Country]:
    """The reader method that fits the file; geoip2 refuses a mismatch at every lookup."""
    if "Enterprise" in database_type:
        return reader.enterprise
    if "City" in database_type:
        return reader.city
    if "Country" in database_type:
        return reader.country
    message = f"is a {database_type} database; a City or Country database is needed"
    raise ConfigError([ConfigProblem(CONFIG_KEY, message)])


def _public_address(address: str) -> IPAddress | None:
    """The address to look up, or None for one no database can place."""
    if len(address) > MAX_ADDRESS_CHARS:
        return None
    ip = parse_ip(address)
    return ip if ip is not None and ip.is_global else None


def _location(record: Country, detail: GeoDetail) -> Location:
    country = _country_code(record.country.iso_code)
    if not country or detail == "country" or not isinstance(record, City):
        return Location(country=country)
    # The first subdivision is the largest (ENG before WBK): coarse on purpose.
    first = record.subdivisions[0] if record.subdivisions else None
    region = _region_code(first.iso_code if first else None)
    city = record.city.names.get("en", "") if detail == "city" else ""
    return Location(country=country, region=region, city=city)


def _country_code(code: str | None) -> str:
    if code and len(code) == 2 and code.isascii() and code.isalpha():
        upper = code.upper()
        return "" if upper in PLACEHOLDER_COUNTRIES else upper
    return ""


def _region_code(code: str | None) -> str:
    """ISO 3166-2 subdivision part: one to three letters or digits."""
    if code and len(code) <= 3 and code.isascii() and code.isalnum():
        return code.upper()
    return ""
