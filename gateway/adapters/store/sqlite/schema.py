"""The SQLite schema: versioned migrations, applied when a store opens."""

from __future__ import annotations

from typing import Final

import aiosqlite

# What a tombstone holds in place of the decision and the visitor (the trigger below allows
# exactly this change; retention makes it). The columns as migration 5 knew them, then now.
_BLANKED_V5: Final = {
    "recorded_at": "''", "consent_id": "''", "site": "''", "action": "''", "source": "''",
    "granted": "'[]'", "denied": "'[]'", "revision": "0", "banner_hash": "''",
    "language": "''", "ip": "''", "user_agent": "''", "page": "''", "gpc": "0",
}
BLANKED: Final = {**_BLANKED_V5, "mode": "''", "host": "''"}


def _tombstones_only(blanked: dict[str, str]) -> str:
    return f"""CREATE TRIGGER consent_log_only_tombstones BEFORE UPDATE ON consent_log
           WHEN NOT (OLD.tombstone = 0 AND NEW.tombstone = 1 AND NEW.seq = OLD.seq
                     AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
                     AND {" AND ".join(f"NEW.{c} = {v}" for c, v in blanked.items())})
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END"""


# The UTC hour a visit started in, from its stored `started_at` (`2026-03-01T21:05:00…Z`).
_START_HOUR: Final = "CAST(substr({row}.started_at, 12, 2) AS INTEGER)"

# Each migration is a list of statements, applied in one transaction; PRAGMA user_version
# records how many have run.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE consent_log (
            seq INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,
            consent_id TEXT NOT NULL,
            site TEXT NOT NULL,
            action TEXT NOT NULL,
            source TEXT NOT NULL,
            granted TEXT NOT NULL,
            denied TEXT NOT NULL,
            revision INTEGER NOT NULL,
            banner_hash TEXT NOT NULL,
            language TEXT NOT NULL,
            ip TEXT NOT NULL,
            user_agent TEXT NOT NULL,
            page TEXT NOT NULL,
            gpc INTEGER NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        )""",
        "CREATE INDEX consent_log_by_consent_id ON consent_log (consent_id)",
        """CREATE TABLE consent_chain_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL
        )""",
        # Append-only: the application never updates or deletes a record. (Retention will
        # replace old records by tombstones through a migration of its own.)
        """CREATE TRIGGER consent_log_no_update BEFORE UPDATE ON consent_log
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END""",
        """CREATE TRIGGER consent_log_no_delete BEFORE DELETE ON consent_log
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END""",
    ),
    (
        """CREATE TABLE cookie_inventory (
            site TEXT NOT NULL,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            count INTEGER NOT NULL,
            path TEXT NOT NULL,
            domain TEXT NOT NULL,
            http_only INTEGER NOT NULL,
            PRIMARY KEY (site, name)
        )""",
    ),
    (
        # No IP address, user-agent string, query string or consent id in any column.
        """CREATE TABLE analytics_events (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            ts TEXT NOT NULL,
            visitor TEXT NOT NULL,
            type TEXT NOT NULL,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            hostname TEXT NOT NULL,
            referrer_host TEXT NOT NULL,
            utm_source TEXT NOT NULL,
            utm_medium TEXT NOT NULL,
            utm_campaign TEXT NOT NULL,
            utm_term TEXT NOT NULL,
            utm_content TEXT NOT NULL,
            country TEXT NOT NULL,
            region TEXT NOT NULL,
            city TEXT NOT NULL,
            browser TEXT NOT NULL,
            os TEXT NOT NULL,
            device TEXT NOT NULL,
            screen_width INTEGER,
            props TEXT NOT NULL
        )""",
        "CREATE INDEX analytics_events_by_site_ts ON analytics_events (site, ts)",
        "CREATE INDEX analytics_events_by_visitor ON analytics_events (visitor)",
        """CREATE TABLE access_log (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            site TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            ip TEXT NOT NULL,
            browser TEXT NOT NULL
        )""",
        "CREATE INDEX access_log_by_ts ON access_log (ts)",
        # Bots are counted per day, never stored as visits.
        """CREATE TABLE bot_counts (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (site, day)
        )""",
    ),
    ("CREATE INDEX analytics_events_by_ts ON analytics_events (ts)",),
    (
        # Retention turns records into tombstones in place: `seq`, `prev_hash` and `hash`
        # stay, every other field is blanked. That is the only change the log allows.
        "ALTER TABLE consent_log ADD COLUMN tombstone INTEGER NOT NULL DEFAULT 0",
        "DROP TRIGGER consent_log_no_update",
        _tombstones_only(_BLANKED_V5),
        "CREATE INDEX consent_log_live_by_time ON consent_log (recorded_at) WHERE tombstone = 0",
        # Keys for the keyed hashes of client addresses (rate limits, blocklist): one per
        # UTC day, shared by every worker, deleted after 48 hours.
        "CREATE TABLE ip_hash_keys (day TEXT PRIMARY KEY, key BLOB NOT NULL)",
        # `client` is a keyed hash, never an address.
        """CREATE TABLE blocklist (
            client TEXT PRIMARY KEY,
            until TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
    ),
    # Erased consent ids stop counting as consent in every worker, read incrementally.
    ("CREATE INDEX consent_log_erasures ON consent_log (seq) WHERE action = 'erase'",),
    (
        # Where a cookie's category came from (rule, catalogue, database, unknown; before
        # the shipped data only rules classified), and whether the upstream set it
        # (`server`) or a page script wrote it (`script`).
        "ALTER TABLE cookie_inventory ADD COLUMN source TEXT NOT NULL DEFAULT 'rule'",
        "UPDATE cookie_inventory SET source = 'unknown' WHERE category = 'unknown'",
        "ALTER TABLE cookie_inventory ADD COLUMN set_by TEXT NOT NULL DEFAULT 'server'",
    ),
    (
        # Visits, kept at ingest in the events' transaction (`sqlite/visits.py`, the rule in
        # `core/analytics/visits.py`): one row per visit, clustered by the UTC day it started
        # so a report reads a range of days in order. Like the events: no address, no user
        # agent, no consent id. (site, visitor, started_at) identifies a visit. `pages`,
        # `names` and `places` hold what breakdowns count per hit as JSON, only when there
        # is more than the visit's own columns say (several paths, custom events, a place
        # that changed): NULL for most visits.
        """CREATE TABLE visits (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            visitor TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            last_day TEXT NOT NULL,
            duration_us INTEGER NOT NULL,
            pageviews INTEGER NOT NULL,
            events INTEGER NOT NULL,
            bounce INTEGER NOT NULL,
            entry_page TEXT NOT NULL,
            exit_page TEXT NOT NULL,
            referrer_host TEXT NOT NULL,
            utm_source TEXT NOT NULL,
            utm_medium TEXT NOT NULL,
            utm_campaign TEXT NOT NULL,
            utm_term TEXT NOT NULL,
            utm_content TEXT NOT NULL,
            country TEXT NOT NULL,
            region TEXT NOT NULL,
            city TEXT NOT NULL,
            browser TEXT NOT NULL,
            os TEXT NOT NULL,
            device TEXT NOT NULL,
            pages TEXT,
            names TEXT,
            places TEXT,
            PRIMARY KEY (site, day, visitor, started_at)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX visits_by_visitor ON visits (visitor, site, started_at)",
        # Only a visit running past a UTC midnight can be cut by a report's range.
        "CREATE INDEX visits_overnight ON visits (site, last_day) WHERE last_day > day",
        # The visit gap the visits were built with, and how far a rebuild has got (NULL:
        # done; text: visitors after this one are still to do). Existing events get their
        # visits when a store next opens, in short transactions.
        """CREATE TABLE visit_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            gap_us INTEGER NOT NULL,
            rebuild_after TEXT
        )""",
        "INSERT INTO visit_settings (id, gap_us, rebuild_after) VALUES (1, 1800000000, '')",
        # Bumped by every erasure, so a cached report of the site is not served again.
        "CREATE TABLE analytics_erasures (site TEXT PRIMARY KEY, erasures INTEGER NOT NULL)",
        # A visitor's events in time order: visits are rebuilt and clipped from these.
        # (No report reads events by site and time any more.)
        "CREATE INDEX analytics_events_by_visitor_time ON analytics_events (visitor, site, ts)",
        "DROP INDEX analytics_events_by_visitor",
        "DROP INDEX analytics_events_by_site_ts",
        # The head of the last chain walk that got through: a routine check resumes there.
        """CREATE TABLE chain_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            verified_at TEXT NOT NULL
        )""",
    ),
    (
        # The regional regime a decision was taken under and the host it was taken on
        # (issue 20). Empty in older records, whose hashes do not cover them; a tombstone
        # blanks them too.
        "ALTER TABLE consent_log ADD COLUMN mode TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE consent_log ADD COLUMN host TEXT NOT NULL DEFAULT ''",
        "DROP TRIGGER consent_log_only_tombstones",
        _tombstones_only(BLANKED),
    ),
    (
        # Daily report archives (`core/analytics/archive.py`): a report reads one row per day
        # instead of every visit. Every change to a day's visits — ingest, a late beacon,
        # retention, an erasure, a rebuild — counts in `visit_day_changes` (the triggers)
        # and deletes that day's archive, so an erased visitor's hash goes with the visit;
        # an archive is written only with the count its visits were read at, and used only
        # while the count is the same.
        """CREATE TABLE visit_day_changes (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            changes INTEGER NOT NULL,
            PRIMARY KEY (site, day)
        ) WITHOUT ROWID""",
        "INSERT INTO visit_day_changes SELECT site, day, 1 FROM visits GROUP BY site, day",
        """CREATE TABLE report_archive (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            changes INTEGER NOT NULL,
            body BLOB NOT NULL,
            PRIMARY KEY (site, day)
        ) WITHOUT ROWID""",
        *(f"""CREATE TRIGGER visits_{when}_day AFTER {when.upper()} ON visits BEGIN
            INSERT INTO visit_day_changes (site, day, changes) VALUES ({row}.site, {row}.day, 1)
                ON CONFLICT (site, day) DO UPDATE SET changes = changes + 1;
            DELETE FROM report_archive WHERE site = {row}.site AND day = {row}.day;
        END""" for when, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))),  # noqa: S608
        # Reports no longer clip visits at the range's edges.
        "DROP INDEX visits_overnight",
    ),
    (
        # Site-search terms and time on page (issue 17 item 7). `search`: a pageview's term
        # from a parameter the site names in `search_params` (lower-cased, at most 100
        # characters), else ''. Per visit as JSON like `names`, NULL when there is none:
        # `searches` (term -> uses), `page_times` (path -> [microseconds, timed views]);
        # `page_open_at`: when the exit page, whose time is still unknown, was viewed.
        # Visits are rebuilt once, so existing ones get their page times too.
        "ALTER TABLE analytics_events ADD COLUMN search TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE visits ADD COLUMN searches TEXT",
        "ALTER TABLE visits ADD COLUMN page_times TEXT",
        "ALTER TABLE visits ADD COLUMN page_open_at TEXT",
        "UPDATE visit_settings SET rebuild_after = ''",
    ),
    (
        # Report archives per hour as well as per day (`core/analytics/archiveplan.py`): a
        # change to the visits of one hour makes again that hour's archive and the day's,
        # not the whole day from its visits. Change counts per (site, day, hour of the
        # visit's start); a day's is their sum. Existing archives are dropped (made again).
        "DROP TRIGGER visits_insert_day",
        "DROP TRIGGER visits_update_day",
        "DROP TRIGGER visits_delete_day",
        "DROP TABLE visit_day_changes",
        "DROP TABLE report_archive",
        """CREATE TABLE visit_hour_changes (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            hour INTEGER NOT NULL,
            changes INTEGER NOT NULL,
            PRIMARY KEY (site, day, hour)
        ) WITHOUT ROWID""",
        f"""INSERT INTO visit_hour_changes
            SELECT site, day, {_START_HOUR.format(row="visits")}, 1 FROM visits
            GROUP BY 1, 2, 3""",  # noqa: S608 - constants only
        # `hour` 24: the whole day's archive.
        """CREATE TABLE report_archive (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            hour INTEGER NOT NULL,
            changes INTEGER NOT NULL,
            body BLOB NOT NULL,
            PRIMARY KEY (site, day, hour)
        ) WITHOUT ROWID""",
        *(f"""CREATE TRIGGER visits_{when}_hour AFTER {when.upper()} ON visits BEGIN
            INSERT INTO visit_hour_changes (site, day, hour, changes)
                VALUES ({row}.site, {row}.day, {_START_HOUR.format(row=row)}, 1)
                ON CONFLICT (site, day, hour) DO UPDATE SET changes = changes + 1;
            DELETE FROM report_archive WHERE site = {row}.site AND day = {row}.day
                AND hour IN ({_START_HOUR.format(row=row)}, 24);
        END""" for when, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))),  # noqa: S608
    ),
)


async def migrate(conn: aiosqlite.Connection) -> None:
    """Apply the migrations this database has not had, in one write transaction: the version
    is read inside it, so workers opening the database at once run each migration once."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
