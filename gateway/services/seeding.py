"""`consent-gateway seed-demo`: synthetic traffic (`core/analytics/synthetic.py`) into the
configured store through the real ingest path, for trying the dashboard and for benchmarks.

Each decision goes through `ConsentService.record_decision` (a consent-log record, and the
signed cookie it gives); each beacon carries that cookie, decoded as the middleware does,
and a page token, and goes through `AnalyticsService.collect`: validated, located,
pseudonymised and written by the batch writer exactly as a real beacon. The services get a
clock that the seeder sets to each item's moment, so events land on past days. A visitor
whose consent ran out decides again. `bulk=True` (the benchmark's path for millions) runs the
same pipeline but writes the events straight through the store's batch API, 10,000 a
transaction, and records no consent-log entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from gateway.core.analytics.events import AnalyticsEvent, Drop
from gateway.core.analytics.pipeline import Arrival
from gateway.core.analytics.synthetic import Decision, Hit, TrafficPlan, Visitor
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.cookie import Consent, granted_categories
from gateway.core.errors import StoreError
from gateway.core.network import Peer
from gateway.core.request import RequestContext
from gateway.services.wiring import Services, build_services

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
BULK_BATCH: Final = 10_000
PROGRESS_EVERY: Final = 1_000

Progress = Callable[[int, int], None]  # (beacons sent, beacons planned)


class SeedClock:
    """The services' clock while seeding: the moment of the item being sent."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class SeedResult:
    events: int = 0       # stored
    decisions: int = 0    # consent-log records
    dropped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class Seeder:
    """Sends a plan's items through one process's services (started by the caller)."""

    def __init__(self, services: Services, clock: SeedClock, site: SiteConfig) -> None:
        self.services = services
        self.clock = clock
        self.site = site
        self.host = site.hosts[0] if site.hosts else "localhost"
        self.cookies: dict[int, str] = {}
        self.result = SeedResult()

    def context(self, visitor: Visitor, consent: Consent | None) -> RequestContext:
        return RequestContext(
            site=self.site, consent=consent, peer=Peer(visitor.address, "http"), host=self.host,
            gpc=False, dnt=False, user_agent=visitor.user_agent, accept_language="en",
            cookies={}, origin_header=None,
        )

    async def decide(self, decision: Decision) -> None:
        self.clock.moment = decision.at
        consent, _ = await self.services.consents.record_decision(
            self.context(decision.visitor, None), action=decision.action,
            granted=decision.granted, source="banner", page=decision.page, language="en")
        self.result.decisions += 1
        if consent.allows("analytics"):
            self.cookies[decision.visitor.number] = self.services.consents.codec.encode(consent)

    async def send(self, hit: Hit) -> AnalyticsEvent | Drop:
        """One beacon through `collect`, with the visitor's cookie and a fresh page token."""
        consents, analytics = self.services.consents, self.services.analytics
        signed = self.cookies.get(hit.visitor.number)
        self.clock.moment = hit.at
        consent = consents.decode(signed, self.site) if signed else None
        if consent is None:  # the consent ran out: the banner asks again
            await self.decide(Decision(hit.at, hit.visitor, "accept_all",
                                       frozenset({"preferences", "analytics", "marketing"}), "/"))
            self.clock.moment = hit.at
            consent = consents.decode(self.cookies.get(hit.visitor.number), self.site)
        body = json.dumps({**hit.beacon, "token": analytics.page_token(self.site)}).encode()
        outcome = analytics.collect(self.context(hit.visitor, consent), body)
        if isinstance(outcome, Drop):
            self.result.dropped[outcome.reason] += 1
        elif analytics.events.waiting >= analytics.events.batch_size:
            await analytics.events.flush()
        return outcome

    def event_of(self, hit: Hit) -> AnalyticsEvent | Drop:
        """The bulk path: the same pipeline, a consent made in memory, nothing queued."""
        analytics = self.services.analytics
        self.clock.moment = hit.at
        consent = Consent(f"seed-{hit.visitor.number:022d}"[-22:], self.site.id,
                          granted_categories({"analytics"}), self.site.revision, hit.at)
        arrival = Arrival(
            site=self.site.id, now=hit.at, address=hit.visitor.address,
            user_agent=hit.visitor.user_agent, consent=consent, origin=None,
            own_origin=f"http://{self.host}".lower(), snippet_origins=self.site.origins,
            dnt=False)
        body = json.dumps({**hit.beacon, "token": analytics.page_token(self.site)}).encode()
        return analytics.pipeline.run(body, arrival)


async def seed(services: Services, clock: SeedClock, site: SiteConfig, plan: TrafficPlan, *,
               progress: Progress | None = None, bulk: bool = False) -> SeedResult:
    """Send every item of `plan`; the services must be started (and are left so)."""
    seeder = Seeder(services, clock, site)
    started, sent = time.monotonic(), 0
    batch: list[AnalyticsEvent] = []
    for item in plan.items():
        if isinstance(item, Decision):
            if not bulk:
                await seeder.decide(item)
            continue
        outcome = seeder.event_of(item) if bulk else await seeder.send(item)
        if bulk and isinstance(outcome, AnalyticsEvent):
            batch.append(outcome)
            if len(batch) >= BULK_BATCH:
                await services.store.add_events(batch)
                batch = []
        sent += 1
        if progress is not None and sent % PROGRESS_EVERY == 0:
            progress(sent, plan.events)
    if batch:
        await services.store.add_events(batch)
    await services.analytics.events.flush()
    result = seeder.result
    result.events = sent - sum(result.dropped.values())
    result.seconds = time.monotonic() - started
    if progress is not None:
        progress(sent, plan.events)
    return result


def plan_for(site: SiteConfig, *, events: int, days: int, now: datetime, seed: int = 17,
             user_agents: tuple[str, ...] | None = None) -> TrafficPlan:
    """A plan of `events` beacons over `days` days up to `now` on `site`'s first host; site
    searches only where the site names search parameters."""
    search = getattr(site, "search_params", None) or ()
    extra: dict[str, Any] = {"user_agents": user_agents} if user_agents else {}
    host = site.hosts[0] if site.hosts else "localhost"
    return TrafficPlan(events=events, days=days, now=now, base_url=f"http://{host}",
                       seed=seed, search_param=search[0] if search else None, **extra)


async def seed_store(config: GatewayConfig, site: SiteConfig, *, events: int, days: int,
                     force: bool, progress: Progress | None = None) -> SeedResult | str:
    """Seed the configured store; a sentence instead when it already holds events and
    `force` is not given."""
    now = datetime.now(UTC)
    clock = SeedClock(now)
    services = build_services(config, clock=clock)
    await services.start()
    try:
        held = await services.store.count_rows("analytics_events")
        if held and not force:
            return (f"the store already holds {held:,} analytics events; seed-demo only fills "
                    "an empty one (--force adds to them anyway)")
        plan = plan_for(site, events=events, days=days, now=now)
        return await seed(services, clock, site, plan, progress=progress)
    finally:
        clock.moment = datetime.now(UTC)
        await services.stop()


# ------------------------------------------------------------------ the command line


def add_seed_command(commands: Any) -> None:
    """The `seed-demo` subcommand's options, on `argparse`'s subparsers."""
    seed_demo = commands.add_parser(
        "seed-demo", help="fill the configured store with synthetic traffic (visits, "
        "referrers, campaigns, countries, devices, custom events, consent decisions) through "
        "the real ingest path, to try the dashboard or to benchmark")
    seed_demo.add_argument("--config", type=Path, default=None,
                           help="TOML file (default: config/gateway.toml)")
    seed_demo.add_argument("--site", help="site id (default: the first site)")
    seed_demo.add_argument("--events", type=int, default=10_000,
                           help="pageviews and custom events to send (default 10,000)")
    seed_demo.add_argument("--days", type=int, default=30,
                           help="spread over this many days up to now (default 30)")
    seed_demo.add_argument("--force", action="store_true",
                           help="seed even though the store already holds events")


def seed_command(args: argparse.Namespace, config: GatewayConfig | None) -> int:
    """Run `seed-demo`; `config` is None when `--config` did not load (and it was said why)."""
    if config is None:
        return EXIT_USAGE
    site = config.sites[0] if args.site is None else config.site_by_id(args.site)
    if site is None:
        known = ", ".join(s.id for s in config.sites)
        print(f"unknown site {args.site!r}; the config has: {known}", file=sys.stderr)
        return EXIT_USAGE
    if args.events < 1 or args.days < 1:
        print("--events and --days must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    progress = _show_progress if sys.stderr.isatty() else None
    try:
        result = asyncio.run(seed_store(config, site, events=args.events, days=args.days,
                                        force=args.force, progress=progress))
    except StoreError as exc:
        print(f"seeding failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    if isinstance(result, str):
        print(result, file=sys.stderr)
        return EXIT_FAILED
    dropped = ", ".join(f"{n} {reason}" for reason, n in result.dropped.items()) or "none"
    print(f"seeded site {site.id}: {result.events:,} events and {result.decisions:,} consent "
          f"decisions over {args.days} days in {result.seconds:.1f} s (dropped: {dropped})")
    return EXIT_OK


def _show_progress(sent: int, total: int) -> None:
    share = sent / total if total else 1.0
    sys.stderr.write(f"\rseeding: {sent:,} of {total:,} events ({share:.0%})")
    sys.stderr.flush()
