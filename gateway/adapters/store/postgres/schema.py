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

# The UTC hour a visit started in.
_START_HOUR: Final = "extract(hour FROM started_at AT TIME ZONE 'UTC')::int"

# pg_advisory_xact_lock key of the migrations ("consentg" as a number).
MIGRATION_LOCK: Final = 0x636F6E73656E7467
# pg_try_advisory_xact_lock key of a retention claim ("retentio").
RETENTION_LOCK: Final = 0x726574656E74696F
# pg_advisory_xact_lock key of partition changes ("partitio"): creating and dropping months.
PARTITION_LOCK: Final = 0x706172746974696F
# The tables partitioned by month (`partitions.py`), with their partition keys.
PARTITIONED: Final = {"analytics_events": "ts", "visits": "day", "access_log": "ts"}

# `gateway_month_partition(parent, month)`: the month's partition of `parent`
# (`parent_YYYY_MM`, UTC months) if it is missing, the month's rows moved into it out of the
# DEFAULT partition (where rows of a month without a partition wait). Idempotent; serialised
# by PARTITION_LOCK. Part of a shipped migration: change it only in a new one.
_MONTH_PARTITION: Final = f"""
CREATE FUNCTION gateway_month_partition(parent text, in_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date := make_date(extract(year FROM in_month)::int,
                            extract(month FROM in_month)::int, 1);
    part text := parent || '_' || to_char(first, 'YYYY_MM');
    key text;
    is_date boolean;
    lo text := first::text;
    hi text := (first + interval '1 month')::date::text;
BEGIN
    PERFORM pg_advisory_xact_lock({PARTITION_LOCK});
    -- A relation lock, unlike the advisory one, makes the catalog up to date: a partition
    -- another instance made while this one waited is seen. EXCLUSIVE, not less: a write
    -- under way would have routed its rows to DEFAULT before the month's partition took
    -- them over, and fail; writers wait the few milliseconds instead.
    EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', parent);
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT a.attname, a.atttypid = 'date'::regtype INTO key, is_date
        FROM pg_partitioned_table AS p JOIN pg_attribute AS a
          ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = parent::regclass;
    IF NOT is_date THEN
        lo := lo || ' 00:00:00+00';
        hi := hi || ' 00:00:00+00';
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, parent);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                   'INSERT INTO %I SELECT * FROM moved',
                   parent || '_default', key, lo, key, hi, part);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, part, lo, hi);
    RETURN true;
END $$"""  # noqa: S608 - constants only


def _unpartitioned_renamed(table: str, old_indexes: tuple[str, ...], *,
                           ids: bool) -> tuple[str, ...]:
    """Statements of a shipped migration (never change them): `table` becomes
    `table_unpartitioned` without its key and indexes, its id sequence's position is taken
    over by a plain sequence `table_ids` (an identity column cannot be partitioned before
    PostgreSQL 17)."""
    old = f"{table}_unpartitioned"
    return (
        f"ALTER TABLE {table} RENAME TO {old}",
        f"ALTER TABLE {old} DROP CONSTRAINT {table}_pkey",
        *(f"DROP INDEX {index}" for index in old_indexes),
        *((f"CREATE SEQUENCE {table}_ids AS bigint",
           f"SELECT setval('{table}_ids', last_value, is_called) FROM {table}_id_seq")  # noqa: S608
          if ids else ()),
    )


def _partitioned_parent(table: str, key: str, primary_key: str, *,
                        ids: bool) -> tuple[str, ...]:
    """Statements of a shipped migration (never change them): `table` again, with the
    columns of `table_unpartitioned`, partitioned by month on `key`, and its DEFAULT
    partition."""
    return (
        f"CREATE TABLE {table} (LIKE {table}_unpartitioned INCLUDING DEFAULTS, "
        f"PRIMARY KEY ({primary_key})) PARTITION BY RANGE ({key})",
        *((f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_ids')",
           f"ALTER SEQUENCE {table}_ids OWNED BY {table}.id") if ids else ()),
        f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT",
    )

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
    (
        # Site-search terms and time on page, as in the SQLite schema; visits rebuilt once.
        "ALTER TABLE analytics_events ADD COLUMN search text NOT NULL DEFAULT ''",
        "ALTER TABLE visits ADD COLUMN searches jsonb",
        "ALTER TABLE visits ADD COLUMN page_times jsonb",
        "ALTER TABLE visits ADD COLUMN page_open_at timestamptz",
        "UPDATE visit_settings SET rebuild_after = ''",
    ),
    (
        # The day change counts without a hot row: one counter row per site, day and
        # *shard* (the backend's pid modulo 16), so instances writing today's visits at once
        # do not wait for each other's commit; a day's count is the sum of its shards. And
        # one trigger run per statement (transition tables), not per visit row.
        "DROP TRIGGER visits_day_changed ON visits",
        "DROP FUNCTION visits_day_changed()",
        "ALTER TABLE visit_day_changes ADD COLUMN shard integer NOT NULL DEFAULT 0",
        "ALTER TABLE visit_day_changes DROP CONSTRAINT visit_day_changes_pkey",
        "ALTER TABLE visit_day_changes ADD PRIMARY KEY (site, day, shard)",
        """CREATE FUNCTION visits_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO visit_day_changes (site, day, shard, changes)
                SELECT DISTINCT site, day, pg_backend_pid() % 16, 1 FROM changed
                ON CONFLICT (site, day, shard)
                DO UPDATE SET changes = visit_day_changes.changes + 1;
            DELETE FROM report_archive AS a
                USING (SELECT DISTINCT site, day FROM changed) AS c
                WHERE a.site = c.site AND a.day = c.day;
            RETURN NULL;
        END $$""",
        *(f"""CREATE TRIGGER visits_days_{when} AFTER {when.upper()} ON visits
               REFERENCING {table} TABLE AS changed
               FOR EACH STATEMENT EXECUTE FUNCTION visits_days_changed()"""
          for when, table in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))),
    ),
    (
        # Events, visits and the access log partitioned by month (UTC; visits by the day
        # they start), so retention drops whole months (`partitions.py`). Each table is
        # renamed, made again partitioned with the same columns (the key now includes the
        # partition key; events and access log keep their id sequence's position), given a
        # DEFAULT partition and the months from its oldest row (at most 24 back) to two
        # ahead, filled, and the old one dropped. The rows are copied before the visits'
        # triggers exist: no day counts as changed, kept report archives stay valid.
        _MONTH_PARTITION,
        *_unpartitioned_renamed("analytics_events", ("analytics_events_by_ts",
                                                     "analytics_events_by_visitor_time"),
                                ids=True),
        *_unpartitioned_renamed("visits", ("visits_by_visitor",), ids=False),
        *_unpartitioned_renamed("access_log", ("access_log_by_ts",), ids=True),
        *_partitioned_parent("analytics_events", "ts", "id, ts", ids=True),
        *_partitioned_parent("visits", "day", "site, day, visitor, started_at", ids=False),
        *_partitioned_parent("access_log", "ts", "id, ts", ids=True),
        """SELECT count(gateway_month_partition(t, m::date))
           FROM unnest(ARRAY['analytics_events', 'visits', 'access_log']) AS t,
                generate_series(
                    (SELECT greatest(date_trunc('month', coalesce(min(o), now_utc)),
                                     date_trunc('month', now_utc) - interval '24 months')
                     FROM (SELECT now() AT TIME ZONE 'UTC') AS n(now_utc),
                          (SELECT min(ts AT TIME ZONE 'UTC') FROM analytics_events_unpartitioned
                           UNION ALL SELECT min(day)::timestamp FROM visits_unpartitioned
                           UNION ALL SELECT min(ts AT TIME ZONE 'UTC')
                                     FROM access_log_unpartitioned) AS s(o)
                     GROUP BY now_utc),
                    date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
                    interval '1 month') AS m""",
        *(f"INSERT INTO {table} SELECT * FROM {table}_unpartitioned"  # noqa: S608
          for table in PARTITIONED),
        *(f"DROP TABLE {table}_unpartitioned" for table in PARTITIONED),
        "CREATE INDEX analytics_events_by_ts ON analytics_events (ts)",
        "CREATE INDEX analytics_events_by_visitor_time ON analytics_events (visitor, site, ts)",
        "CREATE INDEX access_log_by_ts ON access_log (ts)",
        # Not unique: a partitioned table's unique index must hold the partition key, and
        # the primary key (site, day, visitor, started_at) already makes a visit unique
        # (`day` is `started_at`'s day); upserts name the primary key.
        "CREATE INDEX visits_by_visitor ON visits (visitor, site, started_at)",
        # Statement triggers with transition tables, allowed on a partitioned parent: a
        # statement naming `visits` fires them whichever partitions its rows are in.
        *(f"""CREATE TRIGGER visits_days_{when} AFTER {when.upper()} ON visits
               REFERENCING {table} TABLE AS changed
               FOR EACH STATEMENT EXECUTE FUNCTION visits_days_changed()"""
          for when, table in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))),
    ),
    (
        # Report archives per hour as well as per day, as in the SQLite schema: change counts
        # per (site, day, hour of the visit's start, shard); `report_archive.hour` 24 is the
        # whole day. Existing archives are dropped (made again); the triggers stay and call
        # the function made anew here.
        "DROP TABLE visit_day_changes",
        "DROP TABLE report_archive",
        """CREATE TABLE visit_hour_changes (
            site text NOT NULL,
            day date NOT NULL,
            hour integer NOT NULL,
            shard integer NOT NULL,
            changes bigint NOT NULL,
            PRIMARY KEY (site, day, hour, shard)
        )""",
        f"""INSERT INTO visit_hour_changes
            SELECT site, day, {_START_HOUR}, 0, 1 FROM visits GROUP BY 1, 2, 3""",  # noqa: S608
        """CREATE TABLE report_archive (
            site text NOT NULL,
            day date NOT NULL,
            hour integer NOT NULL,
            changes bigint NOT NULL,
            body bytea NOT NULL,
            PRIMARY KEY (site, day, hour)
        )""",
        f"""CREATE OR REPLACE FUNCTION visits_days_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO visit_hour_changes (site, day, hour, shard, changes)
                SELECT DISTINCT site, day, {_START_HOUR}, pg_backend_pid() % 16, 1
                FROM changed
                ON CONFLICT (site, day, hour, shard)
                DO UPDATE SET changes = visit_hour_changes.changes + 1;
            DELETE FROM report_archive AS a
                USING (SELECT DISTINCT site, day, {_START_HOUR} AS hour FROM changed) AS c
                WHERE a.site = c.site AND a.day = c.day AND a.hour IN (c.hour, 24);
            RETURN NULL;
        END $$""",  # noqa: S608 - constants only
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
