"""The PostgreSQL schema: an append-only list of migrations, applied when a store opens, in
one transaction under an advisory lock, so instances opening the database at once migrate
it once (the others wait, then find it done).

The tables are those of the SQLite store (`sqlite/schema.py`) in PostgreSQL's own types:
`timestamptz` for moments, `date` for days, `text[]` for a record's categories, `jsonb`
where SQLite keeps JSON text. The consent log's append-only rule, and the one change
retention may make (a record reduced to a tombstone), are a trigger: the database refuses
any other update, every delete and `TRUNCATE`, whoever asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gateway.core.consent.record import GENESIS_HASH

if TYPE_CHECKING:
    from gateway.adapters.store.postgres.connection import Connection

# pg_advisory_xact_lock key of the migrations ("consentg" as a number).
MIGRATION_LOCK: Final = 0x636F6E73656E7467
# pg_try_advisory_xact_lock key of a retention claim ("retentio").
RETENTION_LOCK: Final = 0x726574656E74696F

# What a tombstone holds in place of the decision and the visitor (the trigger below allows
# exactly this change; retention makes it).
BLANKED: Final = {
    "recorded_at": "NULL", "consent_id": "''", "site": "''", "action": "''", "source": "''",
    "granted": "'{}'::text[]", "denied": "'{}'::text[]", "revision": "0", "banner_hash": "''",
    "language": "''", "ip": "''", "user_agent": "''", "page": "''", "gpc": "false",
    "mode": "''", "host": "''",
}
_IS_BLANKED: Final = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM {v}" for c, v in BLANKED.items())

# Each migration is a list of statements, applied in one transaction; `gateway_schema`
# records how many have run. Append only: never edit one that has shipped.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE consent_log (
            seq bigint PRIMARY KEY,
            recorded_at timestamptz,
            consent_id text NOT NULL,
            site text NOT NULL,
            action text NOT NULL,
            source text NOT NULL,
            granted text[] NOT NULL,
            denied text[] NOT NULL,
            revision integer NOT NULL,
            banner_hash text NOT NULL,
            language text NOT NULL,
            ip text NOT NULL,
            user_agent text NOT NULL,
            page text NOT NULL,
            gpc boolean NOT NULL,
            mode text NOT NULL DEFAULT '',
            host text NOT NULL DEFAULT '',
            prev_hash text NOT NULL,
            hash text NOT NULL UNIQUE,
            tombstone boolean NOT NULL DEFAULT false
        )""",
        "CREATE INDEX consent_log_by_consent_id ON consent_log (consent_id)",
        "CREATE INDEX consent_log_live_by_time ON consent_log (recorded_at) WHERE NOT tombstone",
        "CREATE INDEX consent_log_erasures ON consent_log (seq) WHERE action = 'erase'",
        # The row every append locks (`SELECT … FOR UPDATE`): appends from every instance
        # queue on it, so two never get the same seq or chain onto the same predecessor.
        """CREATE TABLE consent_chain_head (
            id integer PRIMARY KEY CHECK (id = 1),
            seq bigint NOT NULL,
            hash text NOT NULL
        )""",
        f"INSERT INTO consent_chain_head VALUES (1, 0, '{GENESIS_HASH}')",  # noqa: S608
        f"""CREATE FUNCTION consent_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                IF NOT OLD.tombstone AND NEW.tombstone AND NEW.seq = OLD.seq
                   AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
                   AND {_IS_BLANKED} THEN
                    RETURN NEW;
                END IF;
            END IF;
            RAISE EXCEPTION 'consent_log is append-only'
                USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER consent_log_only_tombstones BEFORE UPDATE OR DELETE ON consent_log
           FOR EACH ROW EXECUTE FUNCTION consent_log_append_only()""",
        """CREATE TRIGGER consent_log_no_truncate BEFORE TRUNCATE ON consent_log
           FOR EACH STATEMENT EXECUTE FUNCTION consent_log_append_only()""",
        # The head of the last chain walk that got through: a routine check resumes there.
        """CREATE TABLE chain_checkpoint (
            id integer PRIMARY KEY CHECK (id = 1),
            seq bigint NOT NULL,
            hash text NOT NULL,
            verified_at timestamptz NOT NULL
        )""",
        """CREATE TABLE cookie_inventory (
            site text NOT NULL,
            name text NOT NULL,
            category text NOT NULL,
            first_seen timestamptz NOT NULL,
            last_seen timestamptz NOT NULL,
            count bigint NOT NULL,
            path text NOT NULL,
            domain text NOT NULL,
            http_only boolean NOT NULL,
            source text NOT NULL,
            set_by text NOT NULL,
            PRIMARY KEY (site, name)
        )""",
        # No IP address, user-agent string, query string or consent id in any column.
        """CREATE TABLE analytics_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            site text NOT NULL,
            ts timestamptz NOT NULL,
            visitor text NOT NULL,
            type text NOT NULL,
            name text NOT NULL,
            path text NOT NULL,
            hostname text NOT NULL,
            referrer_host text NOT NULL,
            utm_source text NOT NULL,
            utm_medium text NOT NULL,
            utm_campaign text NOT NULL,
            utm_term text NOT NULL,
            utm_content text NOT NULL,
            country text NOT NULL,
            region text NOT NULL,
            city text NOT NULL,
            browser text NOT NULL,
            os text NOT NULL,
            device text NOT NULL,
            screen_width integer,
            props jsonb NOT NULL
        )""",
        "CREATE INDEX analytics_events_by_ts ON analytics_events (ts)",
        "CREATE INDEX analytics_events_by_visitor_time ON analytics_events (visitor, site, ts)",
        """CREATE TABLE access_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ts timestamptz NOT NULL,
            site text NOT NULL,
            method text NOT NULL,
            path text NOT NULL,
            status integer NOT NULL,
            duration_ms double precision NOT NULL,
            ip text NOT NULL,
            browser text NOT NULL
        )""",
        "CREATE INDEX access_log_by_ts ON access_log (ts)",
        # Bots are counted per day, never stored as visits.
        """CREATE TABLE bot_counts (
            site text NOT NULL,
            day date NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (site, day)
        )""",
        # Keys for the keyed hashes of client addresses: one per UTC day, shared by every
        # instance, deleted after 48 hours. `client` is a keyed hash, never an address.
        "CREATE TABLE ip_hash_keys (day date PRIMARY KEY, key bytea NOT NULL)",
        """CREATE TABLE blocklist (
            client text PRIMARY KEY,
            until timestamptz NOT NULL,
            reason text NOT NULL
        )""",
        # Visits kept at ingest in the events' transaction (`visits.py`); see the SQLite
        # schema for what each column holds.
        """CREATE TABLE visits (
            site text NOT NULL,
            day date NOT NULL,
            visitor text NOT NULL,
            started_at timestamptz NOT NULL,
            ended_at timestamptz NOT NULL,
            last_day date NOT NULL,
            duration_us bigint NOT NULL,
            pageviews integer NOT NULL,
            events integer NOT NULL,
            bounce boolean NOT NULL,
            entry_page text NOT NULL,
            exit_page text NOT NULL,
            referrer_host text NOT NULL,
            utm_source text NOT NULL,
            utm_medium text NOT NULL,
            utm_campaign text NOT NULL,
            utm_term text NOT NULL,
            utm_content text NOT NULL,
            country text NOT NULL,
            region text NOT NULL,
            city text NOT NULL,
            browser text NOT NULL,
            os text NOT NULL,
            device text NOT NULL,
            pages jsonb,
            names jsonb,
            places jsonb,
            PRIMARY KEY (site, day, visitor, started_at)
        )""",
        "CREATE UNIQUE INDEX visits_by_visitor ON visits (visitor, site, started_at)",
        "CREATE INDEX visits_overnight ON visits (site, last_day) WHERE last_day > day",
        """CREATE TABLE visit_settings (
            id integer PRIMARY KEY CHECK (id = 1),
            gap_us bigint NOT NULL,
            rebuild_after text
        )""",
        "INSERT INTO visit_settings (id, gap_us, rebuild_after) VALUES (1, 1800000000, NULL)",
        # Bumped by every erasure, so a cached report of the site is not served again.
        "CREATE TABLE analytics_erasures (site text PRIMARY KEY, erasures bigint NOT NULL)",
    ),
    (
        # Work one instance of several does (the retention purge): when it last started.
        # A claim is one `INSERT … ON CONFLICT … WHERE` under an advisory lock (retention.py).
        "CREATE TABLE job_runs (job text PRIMARY KEY, started_at timestamptz NOT NULL)",
    ),
    (
        # Daily report archives (`reports.py`, as in the SQLite schema): every change to a
        # day's visits counts in `visit_day_changes` and deletes the day's archive.
        """CREATE TABLE visit_day_changes (
            site text NOT NULL,
            day date NOT NULL,
            changes bigint NOT NULL,
            PRIMARY KEY (site, day)
        )""",
        "INSERT INTO visit_day_changes SELECT site, day, 1 FROM visits GROUP BY site, day",
        """CREATE TABLE report_archive (
            site text NOT NULL,
            day date NOT NULL,
            changes bigint NOT NULL,
            body bytea NOT NULL,
            PRIMARY KEY (site, day)
        )""",
        """CREATE FUNCTION visits_day_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            changed visits;
        BEGIN
            IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
            INSERT INTO visit_day_changes (site, day, changes)
                VALUES (changed.site, changed.day, 1)
                ON CONFLICT (site, day)
                DO UPDATE SET changes = visit_day_changes.changes + 1;
            DELETE FROM report_archive WHERE site = changed.site AND day = changed.day;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER visits_day_changed AFTER INSERT OR UPDATE OR DELETE ON visits
           FOR EACH ROW EXECUTE FUNCTION visits_day_changed()""",
        "DROP INDEX visits_overnight",
    ),
)


async def migrate(conn: Connection) -> None:
    """Apply the migrations this database has not had, in one transaction holding the
    migration lock: the version is read under it, so instances run each migration once."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS gateway_schema ("
                           "id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)")
        version = int(await conn.fetchval("SELECT version FROM gateway_schema") or 0)
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                await conn.execute(statement)
        if version < len(MIGRATIONS):
            await conn.execute(
                "INSERT INTO gateway_schema (id, version) VALUES (1, $1) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version", len(MIGRATIONS))
