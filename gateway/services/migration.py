"""`consent-gateway migrate-store --to postgresql://…`: not a per-process service — the
command's options and run. Copies the configured SQLite store into an empty PostgreSQL
database (`adapters/store/migrate.py`) with a progress line, then walks the target's chain
from the first record and checks it ends at the source's head."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.store.chain import ChainWalk, walk_chain
from gateway.adapters.store.migrate import MigrationResult, TargetNotEmpty, migrate_store
from gateway.adapters.store.postgres import PostgresStore, safe_url
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.config import GatewayConfig
from gateway.core.config.storage import storage_engine
from gateway.core.consent.record import ChainBreak
from gateway.core.errors import StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_migrate_command(commands: Any) -> None:
    move = commands.add_parser(
        "migrate-store", help="copy the SQLite store (consent log with its hashes, events, "
        "visits, inventory, blocklist, keys, access log) into an empty PostgreSQL database; "
        "safe to run again after an interruption")
    move.add_argument("--config", type=Path, default=None,
                      help="TOML file (default: config/gateway.toml)")
    move.add_argument("--to", required=True, metavar="URL",
                      help="the target, postgresql://user@host:5432/dbname (the password "
                      "from GATEWAY_STORAGE_PASSWORD, PGPASSWORD or a pgpass file)")
    move.add_argument("--from", dest="source", type=Path, default=None,
                      help="the SQLite file (default: storage.path of the config)")


def migrate_command(args: argparse.Namespace, config: GatewayConfig | None) -> int:
    if storage_engine(args.to) != "postgresql":
        print("--to: must look like 'postgresql://user@host:5432/dbname'", file=sys.stderr)
        return EXIT_USAGE
    source = args.source or (Path(config.storage.path) if config is not None else None)
    if source is None:
        return EXIT_USAGE
    if not source.is_file():
        print(f"no SQLite store at {source}", file=sys.stderr)
        return EXIT_USAGE
    password = os.environ.get("GATEWAY_STORAGE_PASSWORD") or None
    print(f"copying {source} to {safe_url(args.to)} (stop the gateways writing to it first)",
          file=sys.stderr)
    try:
        result, source_head, walk = asyncio.run(
            _run(str(source.resolve()), args.to, password))
    except TargetNotEmpty as exc:
        print(f"\nrefused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StoreError as exc:
        print(f"\nmigration failed (run it again to continue where it stopped): {exc}",
              file=sys.stderr)
        return EXIT_FAILED
    sys.stderr.write("\n")
    rows = ", ".join(f"{table} {count:,}" for table, count in result.copied.items() if count)
    print(f"copied{' (resumed)' if result.resumed else ''}: {rows}")
    verdict = walk.verdict
    if isinstance(verdict, ChainBreak):
        print(f"FAILED: the target's consent log breaks at seq {verdict.seq}: {verdict.reason}")
        return EXIT_FAILED
    if (walk.head.seq, walk.head.hash) != source_head:
        print(f"FAILED: the target's head is seq {walk.head.seq} ({walk.head.hash}), the "
              f"source's seq {source_head[0]} ({source_head[1]})")
        return EXIT_FAILED
    print(f"OK: {verdict.checked} consent records verified on the target, head seq "
          f"{walk.head.seq} hash {walk.head.hash} (the source's)")
    return EXIT_OK


async def _run(
    source: str, url: str, password: str | None
) -> tuple[MigrationResult, tuple[int, str], ChainWalk]:
    original = SQLiteStore(source)
    await original.open()
    try:
        source_head = await original.chain_head()
    finally:
        await original.close()
    result = await migrate_store(source, url, password=password, progress=_show_progress)
    target = PostgresStore(url, password=password, pool_size=2)
    await target.open()
    try:
        walk = await walk_chain(target, full=True)
    finally:
        await target.close()
    return result, source_head, walk


def _show_progress(table: str, done: int, total: int) -> None:
    if not sys.stderr.isatty():
        return
    share = done / total if total else 1.0
    width = 30
    bar = "#" * int(share * width)
    sys.stderr.write(f"\r{table:<20} [{bar:<{width}}] {done:>12,} / {total:,} ({share:.0%})")
    sys.stderr.flush()
