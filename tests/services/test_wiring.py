"""The composition root: one call builds every service on one store, start and stop are
safe to repeat, and every event accepted before a stop is written."""

from __future__ import annotations

from pathlib import Path

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.config import GatewayConfig
from gateway.services.wiring import Services, build_services
from tests.conftest import FrozenClock


async def test_every_service_shares_the_one_store(gateway: Services) -> None:
    assert isinstance(gateway.store, SQLiteStore)
    for service in (gateway.consents, gateway.firewall, gateway.analytics, gateway.subjects,
                    gateway.abuse):
        assert service.store is gateway.store


async def test_start_and_stop_can_be_repeated(
    config: GatewayConfig, clock: FrozenClock, tmp_path: Path
) -> None:
    services = build_services(config, clock=clock)
    await services.start()
    await services.start()
    await services.store.ping()
    await services.stop()
    await services.stop()
    assert (tmp_path / "gateway.sqlite3").exists()


async def test_the_stores_default_is_the_configured_sqlite_file(
    config: GatewayConfig, clock: FrozenClock
) -> None:
    services = build_services(config, clock=clock)
    assert isinstance(services.store, SQLiteStore)
    assert Path(services.store.path) == Path(config.storage.path)
