"""`consent-gateway scan URL`: the site owner's classification (the config's `[[cookies]]`
and `[[blocking.rules]]` over the shipped data, as the firewall uses them), the browser
(`adapters/scanner.py`), the findings and the reports (`core/scan/`).

Exit status: 0 when only necessary things happen before a decision and after a refusal, 1
when anything else does (so CI can run it), 2 when the scan could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from gateway.adapters.clock import system_clock
from gateway.adapters.scanner import ScanOptions, save_last_scan, scan_site
from gateway.core.config import GatewayConfig
from gateway.core.errors import ScanError
from gateway.core.scan.findings import ScanClassifiers, ScanReport, build_report
from gateway.core.scan.htmlreport import report_html
from gateway.core.scan.report import report_json, report_text
from gateway.services.firewall import block_rules, cookie_classifier

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_PAGES: Final = 100


def add_scan_command(commands: Any) -> None:
    """The `scan` subcommand's options, on `argparse`'s subparsers."""
    scan = commands.add_parser(
        "scan", help="visit a site in headless Chromium and report the cookies, storage and "
        "third-party requests before a decision, after \"Reject all\" and after \"Accept "
        "all\"; exit 1 when anything but necessary happens before consent or after a refusal")
    scan.add_argument("url", help="the start page, http:// or https://")
    scan.add_argument("--config", type=Path, default=None,
                      help="TOML file whose [[cookies]] and [[blocking.rules]] rules classify what "
                      "is seen (default: config/gateway.toml)")
    scan.add_argument("--pages", type=int, default=5, help="how many more pages of the site "
                      "to visit, found by links from the start page (default 5)")
    scan.add_argument("--json", action="store_true", help="print JSON instead of the table")
    scan.add_argument("--html", type=Path, metavar="FILE",
                      help="also write a dated HTML report to keep")
    scan.add_argument("--save", action="store_true", help="keep the result next to the "
                      "database (last-scan.json) for the dashboard")
    scan.add_argument("--offline-third-parties", action="store_true",
                      help="record requests to other sites, then abort them: nothing leaves "
                      "the machine for them (CI without network; scripts they would load "
                      "are then not seen)")


def scan_command(args: argparse.Namespace, config: GatewayConfig | None) -> int:
    """Run the scan; `config` is None when `--config` did not load (and it was said why)."""
    if config is None:
        return EXIT_USAGE
    problem = _usage_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    options = ScanOptions(pages=args.pages, offline_third_parties=args.offline_third_parties,
                          consent_prefix=config.server.prefix)
    try:
        report = build_report(scan_site(args.url, options), scan_classifiers(config),
                              scanned_at=system_clock())
    except ScanError as exc:
        print(f"scan failed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
                     if args.json else report_text(report))
    try:
        _write_files(args, config, report)
    except OSError as exc:
        print(f"cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _usage_problem(args: argparse.Namespace) -> str:
    if not args.url.startswith(("http://", "https://")):
        return f"{args.url!r}: give the whole URL, starting with http:// or https://"
    if not 0 <= args.pages <= MAX_PAGES:
        return f"--pages must be between 0 and {MAX_PAGES}"
    return ""


def scan_classifiers(config: GatewayConfig) -> ScanClassifiers:
    """What the gateway with this config would make of a cookie or a request; its consent
    cookie (plain, and `__Host-` over HTTPS) is necessary."""
    name = config.consent.cookie_name
    return ScanClassifiers(cookie=cookie_classifier(config).classify,
                           rules=block_rules(config),
                           own_cookies=frozenset({name, f"__Host-{name}"}))


def _write_files(args: argparse.Namespace, config: GatewayConfig, report: ScanReport) -> None:
    if args.html is not None:
        args.html.write_text(report_html(report), encoding="utf-8")
        print(f"HTML report written to {args.html}", file=sys.stderr)
    if args.save:
        path = save_last_scan(config.storage.path, report)
        print(f"saved for the dashboard in {path}", file=sys.stderr)
