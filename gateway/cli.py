"""`consent-gateway` command line: serve, check-config, verify-log, config-docs, hash-token,
purge, privacy-statement, cookies, export, verify-export, scan, seed-demo, migrate-store.
Every command that reads the store opens the one `storage.url` names."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from gateway.adapters.configfile import load_config, notes_on
from gateway.adapters.static_files import default_config_path
from gateway.core.config import GatewayConfig, config_reference_markdown
from gateway.core.consent.export import ExportFormat, ExportQuery, ExportWriter
from gateway.core.consent.record import ChainBreak
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.errors import ConfigError, RequestError, StoreError
from gateway.services.migration import add_migrate_command, migrate_command
from gateway.services.scan import add_scan_command, scan_command
from gateway.services.seeding import add_seed_command, seed_command
from gateway.services.wiring import configured_store
from gateway.web.server import run_server

if TYPE_CHECKING:
    from gateway.adapters.store import Store
    from gateway.adapters.store.chain import ChainWalk

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {
        "serve": _serve,
        "check-config": _check_config,
        "verify-log": _verify_log,
        "config-docs": _config_docs,
        "hash-token": _hash_token,
        "purge": _purge,
        "privacy-statement": _privacy_statement,
        "cookies": _cookies,
        "export": _export,
        "verify-export": _verify_export,
        "scan": _scan,
        "seed-demo": _seed_demo,
        "migrate-store": _migrate_store,
    }[args.command]
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consent-gateway",
        description="Cookie-consent and web-analytics gateway: banner, proof of consent, "
        "enforcement at the HTTP layer.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    _config_option(serve)
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.add_argument("--upstream", help="URL of the website to put the gateway in front of "
                       "(first site); without one the built-in demo site is served")
    serve.add_argument("--workers", type=_workers, help="worker processes, or \"auto\": one per "
                       "core, for production (default: server.workers)")
    check = commands.add_parser("check-config", help="validate a config file and name every "
                                "problem by key")
    _config_option(check)
    verify = commands.add_parser("verify-log", help="walk the consent log's hash chain (from "
                                 "the last verified checkpoint)")
    _config_option(verify)
    verify.add_argument("--full", action="store_true",
                        help="re-hash every record from the first, not only those after the "
                        "checkpoint the last check left")
    docs = commands.add_parser("config-docs", help="write the configuration reference")
    docs.add_argument("--output", default="docs/configuration.md")
    purge = commands.add_parser("purge", help="delete what the retention policy says is due "
                                "now, and print how many rows per table")
    _config_option(purge)
    purge.add_argument("--dry-run", action="store_true",
                       help="only count what would be deleted")
    statement = commands.add_parser("privacy-statement", help="print a ready-to-publish "
                                    "privacy-statement section (Markdown) made from the config")
    _config_option(statement)
    statement.add_argument("--lang", required=True, choices=("nl", "en"),
                           help="language of the text")
    statement.add_argument("--site", help="site id (default: the first site)")
    cookies = commands.add_parser("cookies", help="print the cookie inventory: each cookie "
                                  "the sites set or page scripts wrote, its category and "
                                  "where that came from")
    _config_option(cookies)
    cookies.add_argument("--site", help="only this site's cookies")
    cookies.add_argument("--toml", action="store_true", help="print [[cookies]] rules to "
                         "paste into the config instead, to pin or correct the categories")
    token = commands.add_parser("hash-token", help="make an admin bearer token and the hash "
                                "to put in admin.token_hashes (or hash a token read on stdin)")
    token.add_argument("--stdin", action="store_true", help="hash the token given on stdin")
    token.add_argument("--basic", metavar="NAME", help="make an HTTP Basic user instead "
                       "(for the dashboard in a browser): a new password, or the one on stdin "
                       "with --stdin, and the line for admin.basic_users")
    _add_export_commands(commands)
    add_scan_command(commands)
    add_seed_command(commands)
    add_migrate_command(commands)
    return parser


def _workers(value: str) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError("a number from 1 to 64, or auto (one per core)")
    return int(value)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML file (default: config/gateway.toml)")


def _load(args: argparse.Namespace) -> GatewayConfig | None:
    path = args.config or default_config_path()
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _scan(args: argparse.Namespace) -> int:
    return scan_command(args, _load(args))


def _seed_demo(args: argparse.Namespace) -> int:
    return seed_command(args, _load(args))


def _migrate_store(args: argparse.Namespace) -> int:
    config = None if args.source else _load(args)
    if config is None and not args.source:
        return EXIT_USAGE
    return migrate_command(args, config)


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return EXIT_FAILED
    sites = ", ".join(f"{s.id} ({s.upstream or 'demo site'})" for s in config.sites)
    path = args.config or default_config_path()
    print(f"{path}: OK — sites: {sites}")
    for note in notes_on(path):
        print(f"  note: {note}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    config_path = Path(args.config or default_config_path()).resolve()
    if args.upstream:
        # Worker processes build the app from the environment, so the override goes there.
        first_site = _first_site_id(config_path)
        os.environ[f"GATEWAY_SITES_{re.sub(r'[^A-Za-z0-9]', '_', first_site).upper()}_UPSTREAM"] \
            = args.upstream
    config = _load(argparse.Namespace(config=config_path))
    if config is None:
        return EXIT_USAGE
    os.environ["GATEWAY_CONFIG"] = str(config_path)
    host = args.host or config.server.host
    port = args.port or config.server.port
    upstream = config.sites[0].upstream or "the built-in demo site"
    scheme = "https" if config.server.serves_https else "http"
    print(f"consent-gateway on {scheme}://{host}:{port}/ in front of {upstream}", flush=True)
    run_server(config, host=host, port=port, workers=args.workers or config.server.workers)
    return EXIT_OK


def _first_site_id(path: Path) -> str:
    import tomllib

    try:
        with path.open("rb") as handle:
            sites = tomllib.load(handle).get("sites") or [{}]
        return str(sites[0].get("id", "demo"))
    except (OSError, tomllib.TOMLDecodeError, AttributeError, IndexError):
        return "demo"


def _verify_log(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return EXIT_USAGE
    try:
        walk = asyncio.run(_walk_chain(configured_store(config), full=args.full))
    except StoreError as exc:
        print(f"cannot read the consent log: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verdict = walk.verdict
    if isinstance(verdict, ChainBreak):
        print(f"FAILED: consent log broken at seq {verdict.seq}: {verdict.reason}")
        return EXIT_FAILED
    before = (f" after seq {walk.resumed_from} (verified earlier; --full re-checks those)"
              if walk.resumed_from else "")
    print(f"OK: {verdict.checked} consent records{before} ({verdict.tombstones} reduced to "
          f"tombstones by retention), chain intact, head hash {walk.head.hash}")
    return EXIT_OK


async def _walk_chain(store: Store, *, full: bool) -> ChainWalk:
    from gateway.adapters.store.chain import walk_chain

    await store.open()
    try:
        return await walk_chain(store, full=full)
    finally:
        await store.close()


def _config_docs(args: argparse.Namespace) -> int:
    Path(args.output).write_text(config_reference_markdown(), encoding="utf-8")
    print(f"wrote {args.output}")
    return EXIT_OK


def _hash_token(args: argparse.Namespace) -> int:
    from gateway.web.admin import new_admin_token, token_hash

    if args.basic is not None:
        return _basic_user(args.basic, from_stdin=args.stdin)
    if args.stdin:
        presented = sys.stdin.readline().strip()
        if not presented:
            print("no token on stdin", file=sys.stderr)
            return EXIT_USAGE
        print(token_hash(presented))
        return EXIT_OK
    token, hashed = new_admin_token()
    print(f"token (give this to the admin; it is not stored anywhere): {token}")
    print(f'config line:  token_hashes = ["{hashed}"]')
    return EXIT_OK


def _basic_user(name: str, *, from_stdin: bool) -> int:
    import secrets

    from gateway.web.admin.auth import basic_user_line

    if not re.fullmatch(r"[^:\s]{1,64}", name):
        print("a user name has 1 to 64 characters, no ':' or spaces", file=sys.stderr)
        return EXIT_USAGE
    password = sys.stdin.readline().rstrip("\n") if from_stdin else secrets.token_urlsafe(18)
    if not password:
        print("no password on stdin", file=sys.stderr)
        return EXIT_USAGE
    if not from_stdin:
        print(f"password for {name} (give it to them; it is not stored anywhere): {password}")
    print(f'config line:  basic_users = ["{basic_user_line(name, password)}"]')
    return EXIT_OK


def _purge(args: argparse.Namespace) -> int:
    from gateway.adapters.clock import system_clock
    from gateway.adapters.jobs import purge

    config = _load(args)
    if config is None:
        return EXIT_USAGE

    async def run() -> dict[str, int]:
        store = configured_store(config)
        await store.open()
        try:
            done = await purge(store, config.retention, system_clock, dry_run=args.dry_run,
                               consent_lifetime=timedelta(days=config.consent.lifetime_days))
            return {str(table): count for table, count in done.items()}
        finally:
            await store.close()

    try:
        counts = asyncio.run(run())
    except StoreError as exc:
        print(f"cannot purge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for table, count in counts.items():
        if table == "consent_log":
            verb = "would reduce" if args.dry_run else "reduced"
            print(f"{table}: {verb} {count} records to tombstones")
        else:
            print(f"{table}: {'would delete' if args.dry_run else 'deleted'} {count} rows")
    return EXIT_OK


def _privacy_statement(args: argparse.Namespace) -> int:
    from gateway.core.privacystatement import missing_settings, privacy_statement

    config = _load(args)
    if config is None:
        return EXIT_USAGE
    site = config.sites[0] if args.site is None else config.site_by_id(args.site)
    if site is None:
        known = ", ".join(s.id for s in config.sites)
        print(f"unknown site {args.site!r}; the config has: {known}", file=sys.stderr)
        return EXIT_USAGE
    for key in missing_settings(config):
        # Still printed: the placeholder in the text shows where the value goes.
        print(f"warning: {key} is empty; set it before publishing the statement",
              file=sys.stderr)
    try:
        seen, facts = _cookie_inventory(config, site.id)
    except StoreError as exc:
        print(f"warning: cookies seen not listed: {exc}", file=sys.stderr)
        seen, facts = [], {}
    sys.stdout.write(privacy_statement(config, site, args.lang, cookies=seen, facts=facts))
    return EXIT_OK


def _cookies(args: argparse.Namespace) -> int:
    from gateway.core.enforcement.inventory_report import cookie_rules_toml, inventory_table

    config = _load(args)
    if config is None:
        return EXIT_USAGE
    if args.site is not None and config.site_by_id(args.site) is None:
        known = ", ".join(s.id for s in config.sites)
        print(f"unknown site {args.site!r}; the config has: {known}", file=sys.stderr)
        return EXIT_USAGE
    try:
        seen, facts = _cookie_inventory(config, args.site)
    except StoreError as exc:
        print(f"cannot read the cookie inventory: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.toml:
        sys.stdout.write(cookie_rules_toml(seen, facts))
    elif seen:
        sys.stdout.write(inventory_table(seen, facts))
    else:
        print("no cookies seen yet", file=sys.stderr)
    return EXIT_OK


def _cookie_inventory(
    config: GatewayConfig, site: str | None
) -> tuple[list[SeenCookie], dict[str, Classification]]:
    """The stored inventory (none without a database file: reading must not create one),
    and what the classifier says about each name today."""
    from gateway.services.firewall import cookie_classifier

    if config.storage.backend == "sqlite" and not Path(config.storage.path).is_file():
        return [], {}

    async def read() -> list[SeenCookie]:
        store = configured_store(config)
        await store.open()
        try:
            return await store.cookie_inventory(site)
        finally:
            await store.close()

    seen = asyncio.run(read())
    classifier = cookie_classifier(config)
    return seen, {c.name: classifier.classify(c.name) for c in seen}


# ------------------------------------------------------------------ export, verify-export


def _add_export_commands(commands: Any) -> None:
    export = commands.add_parser(
        "export", help="write the consent log (or part of it) as CSV or NDJSON, signed; the "
        "same bytes as /_consent/admin/consents.csv|ndjson")
    _config_option(export)
    export.add_argument("--format", required=True, choices=("csv", "ndjson"))
    export.add_argument("--since", help="from this date or time (inclusive, UTC)")
    export.add_argument("--until", help="before this date or time (exclusive, UTC)")
    export.add_argument("--site", help="only this site's records")
    export.add_argument("--consent-id", help="only this consent id's records")
    export.add_argument("--action", help="only records of this action")
    export.add_argument("--head", help="end at this seq instead of the current chain head")
    export.add_argument("--output", type=Path, help="file to write (default: standard output, "
                        "NDJSON only); a CSV's signature goes to OUTPUT.sig")
    check = commands.add_parser(
        "verify-export", help="check an export's signature (needs the server's secret keys) "
        "and, for NDJSON, its records' hashes and chain")
    _config_option(check)
    check.add_argument("file", type=Path)
    check.add_argument("--signature", type=Path, help="signature JSON (default: the NDJSON "
                       "trailer line, else FILE.sig)")


def _export(args: argparse.Namespace) -> int:
    from gateway.core.consent.export import parse_export_query

    config = _load(args)
    if config is None:
        return EXIT_USAGE
    options = {"since": args.since, "until": args.until, "site": args.site,
               "consent_id": args.consent_id, "action": args.action, "head": args.head}
    try:
        query = parse_export_query((k, v) for k, v in options.items() if v is not None)
    except RequestError as exc:
        print(f"--{(exc.field or '').replace('_', '-')}: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "csv" and args.output is None:
        print("a CSV export needs --output: its signature is written next to it as "
              "OUTPUT.sig", file=sys.stderr)
        return EXIT_USAGE
    try:
        signature = _write_export_file(config, args.format, query, args.output)
    except (StoreError, RequestError, OSError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    where = f"{args.output}.sig" if args.format == "csv" else "the last line"
    print(f"exported {signature['records']} entries ({signature['tombstones']} tombstones) up "
          f"to seq {signature['head']['seq']}; signature in {where}", file=sys.stderr)
    return EXIT_OK


def _write_export_file(
    config: GatewayConfig, fmt: ExportFormat, query: ExportQuery, output: Path | None
) -> dict[str, Any]:
    """Write to OUTPUT.part and rename when complete: a half export never looks whole."""
    progress = _show_progress if sys.stderr.isatty() else None
    if output is None:
        return asyncio.run(_run_export(config, fmt, query, sys.stdout.buffer, progress))
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as out:
            signature = asyncio.run(_run_export(config, fmt, query, out, progress))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    partial.replace(output)
    if fmt == "csv":
        Path(f"{output}.sig").write_text(json.dumps(signature, indent=2) + "\n",
                                         encoding="utf-8")
    return signature


async def _run_export(
    config: GatewayConfig, fmt: ExportFormat, query: ExportQuery, out: BinaryIO,
    progress: Callable[[ExportWriter], None] | None,
) -> dict[str, Any]:
    from gateway.web.admin.export import new_export, write_export

    store = configured_store(config)
    await store.open()
    try:
        writer = await new_export(store, fmt, query, config.server.secret_keys)
        return await write_export(store, writer, out, progress)
    finally:
        await store.close()


def _show_progress(writer: ExportWriter) -> None:
    total = writer.head.seq
    share = writer.last_seq / total if total else 1.0
    sys.stderr.write(f"\rexporting: {writer.records:,} entries, seq {writer.last_seq:,} of "
                     f"{total:,} ({share:.0%})")
    sys.stderr.flush()


def _verify_export(args: argparse.Namespace) -> int:
    from gateway.core.consent.export import check_export, check_ndjson_records, split_ndjson_trailer

    config = _load(args)
    if config is None:
        return EXIT_USAGE
    try:
        data, signature = split_ndjson_trailer(args.file.read_bytes())
        sig_path = args.signature or (None if signature else Path(f"{args.file}.sig"))
        if sig_path is not None:
            signature = json.loads(sig_path.read_bytes())
    except (OSError, ValueError) as exc:
        print(f"FAILED: cannot read the export or its signature: {exc}")
        return EXIT_FAILED
    if not isinstance(signature, dict):
        print("FAILED: the signature is not a JSON object")
        return EXIT_FAILED
    problem = check_export(data, signature, config.server.secret_keys)
    broken = check_ndjson_records(data, signature) \
        if problem is None and signature.get("format") == "ndjson" else None
    if problem is not None:
        print(f"FAILED: {problem}")
        return EXIT_FAILED
    if broken is not None:
        print(f"FAILED: seq {broken.seq}: {broken.reason}")
        return EXIT_FAILED
    head = signature["head"]
    print(f"OK: {signature['records']} entries up to seq {head['seq']} (head hash "
          f"{head['hash']}), signed with key {signature['key_id']}, unaltered")
    return EXIT_OK
