"""The modern-engine lane: the same DDL and queries spamgeo sends to ClickHouse, run in chdb
(ClickHouse 26.x in-process), because the local server is 18.16 and users run current
versions. The SQL is read from the files the Go binary embeds, never copied here."""

import math
import json
import re
from pathlib import Path

import pytest
from chdb import session

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "storage"  # every SQL file spamgeo runs lives under it
MIGRATIONS = STORAGE / "migrations"
QUERIES = STORAGE / "queries" / "read"
CAMPAIGN = STORAGE / "queries" / "campaign"
SINK = STORAGE / "queries" / "sink"


def steps(path):
    """Splits a migration file as storage/migrations does: a statement ends with a line whose
    code ends in ';'; comments are dropped except '-- apply-if: <query>', which guards the next
    statement. Returns (check or None, statement) pairs."""
    out, check, stmt = [], None, []

    def finish():
        nonlocal check, stmt
        sql = "\n".join(stmt).strip().removesuffix(";").strip()
        if sql:
            out.append((check, sql))
            check = None
        stmt = []

    for line in path.read_text().split("\n"):
        code, _, comment = line.partition("--")
        code = code.rstrip(" \t")
        if comment.strip().startswith("apply-if:") and not code.strip():
            assert check is None and not stmt, f"misplaced check in {path}"
            check = comment.strip().removeprefix("apply-if:").strip()
            continue
        if code.strip():
            stmt.append(code)
        if code.endswith(";"):
            finish()
    finish()
    assert check is None, f"dangling check in {path}"
    return out


def bind(sql, *params):
    """Binds '?' placeholders as clickhouse-go does on the client: quoted, escaped literals, and
    a list as an array of them."""
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, "placeholder count"

    def literal(p):
        if isinstance(p, list):
            return "[" + ", ".join(literal(v) for v in p) + "]"
        return "'" + str(p).replace("\\", "\\\\").replace("'", "\\'") + "'"

    out = parts[0]
    for p, rest in zip(params, parts[1:]):
        out += literal(p) + rest
    return out


def rows(s, sql):
    text = str(s.query(sql, "TSV")).strip()
    return [line.split("\t") for line in text.splitlines()] if text else []


@pytest.fixture
def db(tmp_path):
    s = session.Session(str(tmp_path / "chdb"))
    s.query("CREATE DATABASE IF NOT EXISTS spamgeo")
    s.query("USE spamgeo")
    yield s
    s.close()


def migrate(s, up_to=None):
    s.query((MIGRATIONS / "ledger.sql").read_text())
    for path in sorted(MIGRATIONS.glob("[0-9]*.sql")):
        if up_to is not None and int(path.name[:4]) > up_to:
            break
        for check, stmt in steps(path):
            if check is None or rows(s, f"SELECT toUInt8(({check}) != 0)") == [["1"]]:
                s.query(stmt)


def describe(s, database="spamgeo"):
    return rows(s, f"SELECT table, name, type FROM system.columns WHERE database = '{database}' ORDER BY table, name") + \
        rows(s, f"SELECT name, engine FROM system.tables WHERE database = '{database}' ORDER BY name")


def test_migrations_apply_twice(db):
    migrate(db)
    before = describe(db)
    migrate(db)
    assert describe(db) == before
    tables = {r[0]: r[1] for r in rows(db, "SELECT name, engine FROM system.tables WHERE database = 'spamgeo'")}
    for name, engine in {
        "events": "MergeTree",
        "ingest_offsets": "AggregatingMergeTree",
        "event_ids": "MergeTree",
        "rollup_country_minute": "AggregatingMergeTree",
        "rollup_country_hour": "AggregatingMergeTree",
        "rollup_country_day": "AggregatingMergeTree",
        "rollup_asn_hour": "AggregatingMergeTree",
        "rollup_asn_day": "AggregatingMergeTree",
        "rollup_country_month": "AggregatingMergeTree",
        "rollup_asn_month": "AggregatingMergeTree",
        "daily_country": "View",
        "daily_country_share": "View",
        "daily_asn": "View",
        "schema_migrations": "MergeTree",
        "address_space": "ReplacingMergeTree",
        "country_population": "MergeTree",
        "country_population_current": "View",
        "monthly_country_per_capita": "View",
        "geoip_address_space": "View",
    }.items():
        assert tables.get(name) == engine, name


EVENTS = [  # received_at, source, country, continent, asn, kafka offset
    ("2005-03-31 23:59:59", "::ffff:30.0.0.1", "US", "NA", 64000, 0),
    ("2005-04-01 00:00:00", "::ffff:30.0.0.2", "US", "NA", 64000, 1),
    ("2005-04-01 12:00:00", "::ffff:31.0.0.1", "KR", "AS", 64001, 2),
    ("2005-09-30 23:59:59", "2a00:3::1", "CN", "AS", 64002, 3),
    ("2005-09-30 23:59:59", "::ffff:30.0.0.2", "US", "NA", 64000, 4),
    ("2005-10-01 00:00:00", "::ffff:30.0.0.4", "US", "NA", 64000, 5),
]


def insert_events(s, with_offsets):
    cols = "event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, asn, as_org, size"
    values = []
    for at, ip, cc, cont, asn, off in EVENTS:
        v = f"generateUUIDv4(), '{at}', 't', 'synth', IPv6StringToNum('{ip}'), '{cc}', '{cont}', {asn}, 'Org {asn}', 100"
        values.append(v + (f", 'spamgeo.enriched', 0, {off}" if with_offsets else ""))
    if with_offsets:
        cols += ", kafka_topic, kafka_partition, kafka_offset"
    s.query(f"INSERT INTO events ({cols}) VALUES " + ", ".join(f"({v})" for v in values))


def check_rollups(s):
    for table in ("rollup_country_minute", "rollup_country_hour", "rollup_country_day", "rollup_asn_hour", "rollup_asn_day",
                  "rollup_country_month", "rollup_asn_month"):
        assert rows(s, f"SELECT countMerge(messages), sumMerge(bytes) FROM {table}") == [["6", "600"]], table
    assert rows(s, "SELECT uniqHLL12Merge(sources) FROM rollup_country_month") == [["5"]]
    assert rows(s, "SELECT toString(day), country_code, messages, sources FROM daily_country ORDER BY day, country_code") == [
        ["2005-03-31", "US", "1", "1"],
        ["2005-04-01", "KR", "1", "1"],
        ["2005-04-01", "US", "1", "1"],
        ["2005-09-30", "CN", "1", "1"],
        ["2005-09-30", "US", "1", "1"],
        ["2005-10-01", "US", "1", "1"],
    ]
    assert rows(s, "SELECT toString(day), country_code, share_pct FROM daily_country_share WHERE day = '2005-04-01' ORDER BY country_code") == [
        ["2005-04-01", "KR", "50"], ["2005-04-01", "US", "50"]]


def test_fresh_install_rollups_views_and_offsets(db):
    migrate(db)
    insert_events(db, with_offsets=True)
    check_rollups(db)
    stored = (SINK / "stored_offsets.sql").read_text()
    assert rows(db, bind(stored, "spamgeo.enriched")) == [["0", "5"]]
    assert rows(db, bind(stored, "another.topic")) == []
    assert rows(db, "SELECT asn, as_org, sum(messages) FROM daily_asn GROUP BY asn, as_org ORDER BY asn") == [
        ["64000", "Org 64000", "4"], ["64001", "Org 64001", "1"], ["64002", "Org 64002", "1"]]


def test_upgrade_from_version_1_with_data(db):
    migrate(db, up_to=1)
    insert_events(db, with_offsets=False)
    migrate(db)
    check_rollups(db)
    db.query("CREATE DATABASE fresh")
    db.query("USE fresh")
    migrate(db)
    assert describe(db, "spamgeo") == describe(db, "fresh")


def fill(sql, **parts):
    for k, v in parts.items():
        sql = sql.replace("{" + k + "}", v)
    assert "{" not in sql.replace("{rollup}", ""), sql
    return sql


RESOLUTIONS = [  # as query.Resolutions in console/query/query.go
    ("rollup_country_month", "rollup_asn_month", "uniqHLL12"),
    ("rollup_country_day", "rollup_asn_day", "uniq"),
    ("rollup_country_hour", "rollup_asn_hour", "uniq"),
    ("rollup_country_minute", None, "uniq"),
]


def array(values):
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def test_share_queries(db):
    """storage/queries/read/shares.sql and shares_total.sql, every rollup, grouping and merge Go can fill in."""
    migrate(db)
    insert_events(db, with_offsets=True)
    shares = (QUERIES / "shares.sql").read_text()
    total = (QUERIES / "shares_total.sql").read_text()
    period = ("2005-04-01 00:00:00", "2005-10-01 00:00:00")
    for country_table, asn_table, uniq in RESOLUTIONS:
        for key, name, table in [("country_code", "''", country_table), ("continent_code", "''", country_table),
                                 ("trap_id", "''", country_table), ("asn", "anyMerge(as_org)", asn_table)]:
            if table is None:
                continue
            sql = fill(shares, table=table, key=key, name=name, uniq=uniq)
            got = rows(db, bind(sql.replace("?, ?", f"{array([''])}, {array([''])}", 1), *period))
            # The two US messages come from one address, so the period has 3 distinct sources.
            want = {
                "country_code": [["US", "", "2", "1"], ["CN", "", "1", "1"], ["KR", "", "1", "1"]],
                "continent_code": [["AS", "", "2", "2"], ["NA", "", "2", "1"]],
                "trap_id": [["t", "", "4", "3"]],
                "asn": [["64000", "Org 64000", "2", "1"], ["64001", "Org 64001", "1", "1"], ["64002", "Org 64002", "1", "1"]],
            }[key]
            assert got == want, (table, key, got)
            assert rows(db, bind(fill(total, table=table, uniq=uniq), *period)) == [["4", "3"]], table
        # A publisher grouping folds KR into CN, counting their sources together.
        merged = fill(shares, table=country_table, key="country_code", name="''", uniq=uniq)
        merged = merged.replace("?, ?", f"{array(['', 'KR'])}, {array(['', 'CN'])}", 1)
        assert rows(db, bind(merged, *period)) == [["CN", "", "2", "2"], ["US", "", "2", "1"]], country_table


def test_series_query(db):
    migrate(db)
    insert_events(db, with_offsets=True)
    series = (QUERIES / "series.sql").read_text()
    for bucket, table in [("toStartOfMonth", "rollup_country_month"), ("toStartOfMonth", "rollup_country_day"),
                          ("toDate", "rollup_country_day"), ("toDate", "rollup_country_hour")]:
        sql = fill(series, bucket=bucket, table=table, key="country_code")
        got = rows(db, bind(sql.replace("?, ?", f"{array([''])}, {array([''])}", 1), "2005-03-01 00:00:00", "2005-11-01 00:00:00"))
        if bucket == "toStartOfMonth":
            assert got == [["2005-03-01", "US", "1"], ["2005-04-01", "KR", "1"], ["2005-04-01", "US", "1"],
                           ["2005-09-01", "CN", "1"], ["2005-09-01", "US", "1"], ["2005-10-01", "US", "1"]], (table, got)
        else:
            assert got[0] == ["2005-03-31", "US", "1"] and len(got) == 6, (table, got)


def test_extent_and_hourly_queries(db):
    """storage/queries/read/extent.sql (the dashboard's default period) and hourly.sql (its live view)."""
    migrate(db)
    extent = (QUERIES / "extent.sql").read_text()
    assert rows(db, extent)[0][2] == "0"
    insert_events(db, with_offsets=True)
    (first, last, n), = rows(db, extent)
    assert (first, last) == ("2005-03-31 00:00:00", "2005-10-01 00:00:00") and n != "0"
    hourly = (QUERIES / "hourly.sql").read_text()
    got = rows(db, bind(hourly, "2005-03-01 00:00:00", "2005-11-01 00:00:00"))
    assert len(got) == 6 and got[0][1:] == ["US", "1"], got
    assert rows(db, bind(hourly, "2006-01-01 00:00:00", "2006-01-02 00:00:00")) == []


def test_raw_country_query(db):
    migrate(db)
    insert_events(db, with_offsets=True)
    raw = (QUERIES / "country_messages_raw.sql").read_text()
    assert rows(db, bind(raw, "2005-04-01 00:00:00", "2005-10-01 00:00:00")) == [["US", "2"], ["CN", "1"], ["KR", "1"]]
    assert rows(db, bind(raw, "2006-01-01 00:00:00", "2006-02-01 00:00:00")) == []


def test_retention_ttl(db):
    """spamgeo retention sets TTLs on current servers; the template is the file Go fills in."""
    migrate(db)
    template = "\n".join(l for l in (STORAGE / "retention" / "ttl.sql").read_text().split("\n")
                         if l.strip() and not l.startswith("--"))
    for table, column in [("events", "received_at"), ("event_ids", "received_at"), ("rollup_country_minute", "t"), ("rollup_country_hour", "t"),
                          ("rollup_asn_hour", "t"), ("rollup_country_day", "t"), ("rollup_asn_day", "t"),
                          ("rollup_country_month", "t"), ("rollup_asn_month", "t"), ("campaign_keys", "generation"),
                          ("campaign_days", "generation"), ("host_addresses", "resolved_at")]:
        db.query(template.replace("{table}", table).replace("{column}", column).replace("{days}", "30"))
        ddl = rows(db, f"SELECT create_table_query FROM system.tables WHERE database = 'spamgeo' AND name = '{table}'")[0][0]
        assert "TTL" in ddl and "toIntervalDay(30)" in ddl, ddl
    insert_events(db, with_offsets=True)
    db.query("OPTIMIZE TABLE events FINAL")
    assert rows(db, "SELECT count() FROM events") == [["0"]]  # 2005 rows are long past a 30-day TTL


def test_docs_sql_examples_run(db):
    """Every SQL example in docs/sql.md runs on the current schema."""
    migrate(db)
    insert_events(db, with_offsets=True)
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "sql.md").read_text(), flags=re.S)
    assert blocks
    ran = 0
    for block in blocks:
        for stmt in re.split(r";\s*$", re.sub(r"^\s*--.*$", "", block, flags=re.M), flags=re.M):  # ';' ends a line
            if stmt.strip():
                db.query(stmt)
                ran += 1
    assert ran >= 19  # the schema examples and the common questions


def test_provenance_queries(db):
    """storage/queries/read/traps.sql on every country rollup, and geoip_builds.sql on the events."""
    migrate(db)
    insert_events(db, with_offsets=True)
    db.query("INSERT INTO events (event_id, received_at, trap_id, collector, geoip_build) VALUES "
             "(generateUUIDv4(), '2005-05-01 00:00:00', 'u', 'synth', 'country ipvAll@2026-06-01'), "
             "(generateUUIDv4(), '2005-05-02 00:00:00', 'u', 'synth', 'country ipvAll@2026-06-01')")
    period = ("2005-04-01 00:00:00", "2005-10-01 00:00:00")
    traps = (QUERIES / "traps.sql").read_text()
    for country_table, _, _ in RESOLUTIONS:
        assert rows(db, bind(fill(traps, table=country_table), *period)) == [["2"]], country_table
    builds = (QUERIES / "geoip_builds.sql").read_text()
    quoted = "SELECT concat('[', geoip_build, ']'), n FROM (" + builds + ")"  # rows() strips a leading ''
    assert rows(db, bind(quoted, *period)) == [["[]", "4"], ["[country ipvAll@2026-06-01]", "2"]]
    assert rows(db, bind(builds, "2006-01-01 00:00:00", "2006-02-01 00:00:00")) == []


def test_address_density_query(db):
    """storage/queries/read/address_density.sql: unique IPv4 sources and IPv6 /64s per country beside the
    address space of the build (none stored for China here: zeros)."""
    migrate(db)
    insert_events(db, with_offsets=False)
    db.query("INSERT INTO address_space VALUES ('b', 'country', 'US', 65536, 4294967296, now()), "
             "('b', 'country', 'KR', 65536, 4294967296, now()), ('other', 'country', 'CN', 1, 1, now())")
    # Stored again (a second enricher): one copy counts, the latest.
    db.query("INSERT INTO address_space VALUES ('b', 'country', 'US', 1, 1, now() - 60), ('b', 'country', 'KR', 65536, 4294967296, now())")
    sql = fill((QUERIES / "address_density.sql").read_text(), key="country_code", kind="'country'", builds="'b'")
    got = rows(db, bind(sql, "2005-04-01 00:00:00", "2005-10-01 00:00:00"))
    assert got == [["CN", "Org 64002", "1", "0", "1", "0", "0"], ["KR", "Org 64001", "1", "1", "0", "65536", "4294967296"],
                   ["US", "Org 64000", "2", "1", "0", "65536", "4294967296"]], got
    by_asn = fill((QUERIES / "address_density.sql").read_text(), key="toString(asn)", kind="'asn'", builds="'b'")
    assert [r[:3] for r in rows(db, bind(by_asn, "2005-04-01 00:00:00", "2005-10-01 00:00:00"))] == [
        ["64000", "Org 64000", "2"], ["64001", "Org 64001", "1"], ["64002", "Org 64002", "1"]]


def load_population(s, loaded_at, rows_):
    values = ", ".join(f"('{cc}', {people}, 2025, {users}, 2023, 'test', '{loaded_at}')" for cc, people, users in rows_)
    s.query("INSERT INTO country_population VALUES " + values)


def test_normalisation_views(db):
    """monthly_country_per_capita reads the latest load of the dataset only and leaves a country
    without a figure NULL, never 0; geoip_address_space keeps one copy of a key stored twice."""
    migrate(db)
    insert_events(db, with_offsets=False)
    load_population(db, "2026-01-01 00:00:00", [("US", 300_000_000, 250_000_000), ("KR", 50_000_000, 0), ("CN", 1, 1)])
    load_population(db, "2026-02-01 00:00:00", [("US", 400_000_000, 200_000_000), ("KR", 50_000_000, 0)])
    assert rows(db, "SELECT country_code, population FROM country_population_current ORDER BY country_code") == [
        ["KR", "50000000"], ["US", "400000000"]]
    got = rows(db, "SELECT toString(month), country_code, messages, population, internet_users, messages_per_million_people, "
                   "messages_per_million_internet_users FROM monthly_country_per_capita WHERE month >= '2005-04-01' "
                   "AND month < '2005-10-01' ORDER BY month, country_code")
    assert got == [["2005-04-01", "KR", "1", "50000000", "0", "0.02", "\\N"],
                   ["2005-04-01", "US", "1", "400000000", "200000000", "0.0025", "0.005"],
                   ["2005-09-01", "CN", "1", "0", "0", "\\N", "\\N"],
                   ["2005-09-01", "US", "1", "400000000", "200000000", "0.0025", "0.005"]], got
    db.query("INSERT INTO address_space VALUES ('b', 'country', 'US', 1, 1, now() - 60), ('b', 'country', 'US', 65536, 7, now())")
    assert rows(db, "SELECT geoip_build, kind, key, ipv4_addresses, ipv6_nets64 FROM geoip_address_space") == [
        ["b", "country", "US", "65536", "7"]]


PERIOD = ("2005-04-01 00:00:00", "2005-10-01 00:00:00")

# How Go fills ({name} parts) and binds ('?' values, a list for an array) each statement file
# under storage/queries and storage/retention; test_every_sql_file_runs runs them all.
STATEMENTS = {
    "queries/read/address_density.sql": (dict(key="country_code", kind="'country'", builds="'b'"), PERIOD),
    "queries/read/country_messages_raw.sql": ({}, PERIOD),
    "queries/read/extent.sql": ({}, ()),
    "queries/read/geoip_builds.sql": ({}, PERIOD),
    "queries/read/hourly.sql": ({}, PERIOD),
    "queries/read/series.sql": (dict(bucket="toDate", table="rollup_country_day", key="country_code"), ([""], [""]) + PERIOD),
    "queries/read/shares.sql": (dict(table="rollup_country_day", key="country_code", name="''", uniq="uniq"), ([""], [""]) + PERIOD),
    "queries/read/shares_total.sql": (dict(table="rollup_country_day", uniq="uniq"), PERIOD),
    "queries/read/traps.sql": (dict(table="rollup_country_day"), PERIOD),
    "queries/campaign/fingerprints.sql": ({}, (PERIOD[1],)),
    "queries/campaign/host_addresses.sql": ({}, ()),
    "queries/campaign/hosts.sql": ({}, PERIOD),
    "queries/campaign/messages.sql": ({}, PERIOD),
    "queries/campaign/traffic.sql": ({}, PERIOD),
    "queries/sink/known_events.sql": (dict(table="event_ids", ranges="received_at BETWEEN ? AND ?"), PERIOD),
    "queries/sink/stored_offsets.sql": ({}, ("spamgeo.enriched",)),
    "retention/ttl.sql": (dict(table="events", column="received_at", days="30"), ()),
}
SQL_FILES = sorted(p.relative_to(STORAGE).as_posix() for p in STORAGE.rglob("*.sql"))


def test_sql_files_are_found():
    assert len(SQL_FILES) >= 26 and {f.split("/")[0] for f in SQL_FILES} == {"migrations", "queries", "retention"}, SQL_FILES


@pytest.mark.parametrize("rel", SQL_FILES)
def test_every_sql_file_runs(db, rel):
    """Every SQL file under storage/, found by globbing: a new one fails here until it says how
    Go fills it. Migrations run again (each step is idempotent); the others run filled in."""
    migrate(db)
    insert_events(db, with_offsets=True)
    if rel.startswith("migrations/"):
        assert rel == "migrations/ledger.sql" or re.fullmatch(r"migrations/\d{4}_\w+\.sql", rel), rel
        for check, stmt in steps(STORAGE / rel):
            if check is None or rows(db, f"SELECT toUInt8(({check}) != 0)") == [["1"]]:
                db.query(stmt)
        return
    assert rel in STATEMENTS, f"storage/{rel} is new: add how Go fills and binds it to STATEMENTS"
    parts, params = STATEMENTS[rel]
    sql = fill("\n".join(l for l in (STORAGE / rel).read_text().split("\n") if not l.startswith("--")), **parts)
    db.query("CREATE TABLE IF NOT EXISTS spamgeo.batch_ids (event_id UUID) ENGINE = Memory")  # the sink's external table
    rows(db, bind(sql, *params))


def test_campaign_queries(db):
    """storage/queries/campaign: the fingerprints, traffic, hosts and messages of campaign mail,
    and the stored host resolutions."""
    migrate(db)
    ids = ["6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60", "7f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f61", "8f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f62"]
    db.query("INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, asn, url_hosts, url_domains, "
             "subject_template, body_simhash) VALUES "
             f"(toUUID('{ids[0]}'), '2005-05-01 10:00:00', 't', 'trap', IPv6StringToNum('192.0.2.1'), 'US', 64000, "
             "['www.pills.example'], ['pills.example'], 'cheap # pills today', 42), "
             f"(toUUID('{ids[1]}'), '2005-05-02 10:00:00', 't', 'trap', IPv6StringToNum('192.0.2.2'), 'CN', 64001, "
             "['www.pills.example'], ['pills.example'], 'cheap # pills today', 42), "
             f"(toUUID('{ids[2]}'), '2005-05-02 11:00:00', 't', 'trap', IPv6StringToNum('192.0.2.3'), 'CN', 64001, [], [], '', 0)")
    assert rows(db, bind((CAMPAIGN / "fingerprints.sql").read_text(), "2005-06-01 00:00:00")) == [
        ["['pills.example']", "cheap # pills today", "42", "2", "2005-05-01 10:00:00", "2005-05-02 10:00:00"]]
    assert rows(db, bind((CAMPAIGN / "fingerprints.sql").read_text(), "2005-05-01 00:00:00")) == []
    traffic = rows(db, bind((CAMPAIGN / "traffic.sql").read_text(), *PERIOD))
    assert sorted(r[3:] for r in traffic) == [["::ffff:192.0.2.1", "US", "64000", "2005-05-01", "1"], ["::ffff:192.0.2.2", "CN", "64001", "2005-05-02", "1"]], traffic  # Go unmaps
    assert rows(db, bind((CAMPAIGN / "hosts.sql").read_text(), *PERIOD)) == [["www.pills.example"]]
    messages = rows(db, bind((CAMPAIGN / "messages.sql").read_text(), *PERIOD))
    assert [r[0] for r in messages] == ids[:2] and messages[0][5] == "::ffff:192.0.2.1", messages
    db.query("INSERT INTO host_addresses VALUES ('2005-05-03 00:00:00', 'www.pills.example', 'pills.example', "
             "IPv6StringToNum('198.51.100.7'), 'RU', 64500, 'Org 64500', 'b1'), ('2005-05-04 00:00:00', 'www.pills.example', "
             "'pills.example', IPv6StringToNum('198.51.100.7'), 'RU', 64500, 'Org 64500', 'b2')")
    assert rows(db, (CAMPAIGN / "host_addresses.sql").read_text()) == [
        ["www.pills.example", "::ffff:198.51.100.7", "RU", "64500", "Org 64500", "2005-05-03 00:00:00", "2005-05-04 00:00:00", "['b1','b2']"]]


def test_sink_known_events(db):
    """The sink's lookup of stored event ids: event_ids is kept by the insert into events."""
    migrate(db)
    ids = ["6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60", "7f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f61", "8f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f62"]
    db.query("INSERT INTO events (event_id, received_at, trap_id, collector) VALUES "
             f"(toUUID('{ids[0]}'), '2005-04-05 10:00:00', 't', 'trap'), (toUUID('{ids[2]}'), '2005-06-01 00:00:00', 't', 'replay')")
    known = (SINK / "known_events.sql").read_text().replace("{table}", "event_ids")
    # The sink sends the batch's ids as an external table; here it is a table of the session.
    db.query("CREATE TABLE spamgeo.batch_ids (event_id UUID) ENGINE = Memory")
    db.query("INSERT INTO spamgeo.batch_ids VALUES " + ", ".join(f"('{i}')" for i in ids))
    two = known.replace("{ranges}", "received_at BETWEEN ? AND ? OR received_at BETWEEN ? AND ?")
    sql = bind(two, "2005-04-05 09:00:00", "2005-04-05 11:00:00", "2005-06-01 00:00:00", "2005-06-01 00:00:00")
    assert sorted(r[0] for r in rows(db, sql)) == [ids[0], ids[2]]
    one = known.replace("{ranges}", "received_at BETWEEN ? AND ?")
    assert rows(db, bind(one, "2005-04-06 00:00:00", "2005-04-07 00:00:00")) == []


# Grafana: every panel of deploy/grafana/dashboards/*.json, its macros expanded the way the
# grafana-clickhouse-datasource plugin expands them, runs on the current schema and answers the
# columns the panel uses; every Prometheus panel names metrics the Go code registers.
GRAFANA_FROM, GRAFANA_TO = 1109635200, 1130803200  # 2005-03-01 .. 2005-11-01 UTC
GRAFANA_COLUMNS = {  # name and type of each column a panel uses (time series: time first, then numbers)
    "Share of all spam over time by ${grouping:text}: the top 8 and all others": [
        ("time", "DateTime"), ("key", "String"), ("share", "Float64")],
    "Share of spam by country": [("country_code", "String"), ("messages", "UInt64"), ("share", "Float64")],
    "Top networks": [("asn", "UInt32"), ("organisation", "String"), ("country_code", "String"), ("messages", "UInt64")],
    "This period against the one before": [("country_code", "String"), ("share_now", "Float64"),
                                           ("share_before", "Float64"), ("change_pp", "Float64")],
    "Spam campaigns (as last saved by spamgeo campaigns --save)": [
        ("campaign_id", "String"), ("messages", "UInt64"), ("days", "UInt64"), ("most_sources_in_a_day", "UInt64"),
        ("relay_countries", "String")],
    "Messages per trap": [("trap_id", "String"), ("messages", "UInt64")],
    "Spam per million Internet users": [("country_code", "String"), ("messages", "UInt64"), ("internet_users", "UInt64"),
                                        ("per_million_internet_users", "Float64"), ("times_us", "Float64")],
    "Spam sources per million IPv4 addresses": [("country_code", "String"), ("geoip_build", "String"), ("ipv4_sources", "UInt64"),
                                                ("ipv4_addresses", "UInt64"), ("per_million_addresses", "Float64")],
}


def expand_grafana(sql, variables):
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 lambda m: f"{m[1]} >= toDateTime({GRAFANA_FROM}) AND {m[1]} <= toDateTime({GRAFANA_TO})", sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)",
                 lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL 3600 second)", sql)
    sql = sql.replace("$__fromTime", f"toDateTime({GRAFANA_FROM})").replace("$__toTime", f"toDateTime({GRAFANA_TO})")
    for name, value in variables.items():
        sql = sql.replace("${" + name + ":singlequote}", ", ".join(f"'{v}'" for v in value))
        sql = sql.replace("${" + name + "}", value if isinstance(value, str) else value[0])
    assert "$" not in sql, sql
    return sql


def go_metric_names():
    names = set()
    for path in ROOT.rglob("*.go"):
        names.update(re.findall(r'Name:\s*"(spamgeo_\w+)"', path.read_text()))
    return names


def test_alert_rules_name_registered_metrics():
    """Every metric deploy/prometheus/alerts.yml alerts on is one the Go code registers."""
    go_metrics = go_metric_names()
    exprs = re.findall(r"expr: (?:\|\n)?((?:.+\n)+?)\s*(?:for|labels):", (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    used = {m for e in exprs for m in re.findall(r"spamgeo_\w+", e)}
    assert len(used) >= 8, used
    assert used <= go_metrics, used - go_metrics


def grafana_dashboards():
    return [json.loads(p.read_text()) for p in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))]


def test_grafana_panels(db):
    migrate(db)
    insert_events(db, with_offsets=True)
    db.query("INSERT INTO campaign_days (generation, campaign_id, day, messages, sources, country_codes, asns) "
             "VALUES (now(), 'b82465470e9b', '2005-04-02', 3, 2, ['US', 'CN'], [64500])")
    # For the normalised panels: 40 messages from 40 sources in a country with a figure and a /16.
    db.query("INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, geoip_build) "
             "SELECT generateUUIDv4(), toDateTime('2005-06-01 10:00:00', 'UTC'), 't', 'synth', "
             "IPv6StringToNum(concat('::ffff:30.0.0.', toString(number))), 'DE', 'EU', 'b; a' FROM numbers(40)")
    db.query("INSERT INTO address_space VALUES ('b', 'country', 'DE', 65536, 0, now())")
    load_population(db, "2026-01-01 00:00:00", [("DE", 83_000_000, 78_000_000), ("US", 340_000_000, 310_000_000)])
    go_metrics = go_metric_names()
    checked = set()
    for dash in grafana_dashboards():
        traps = [r[0] for r in rows(db, "SELECT DISTINCT trap_id FROM rollup_country_day")]
        for grouping in ("country_code", "continent_code"):
            for panel in dash["panels"]:
                for target in panel.get("targets", []):  # a row panel has none
                    if target["datasource"]["type"] == "prometheus":
                        for metric in re.findall(r"spamgeo_\w+", target["expr"]):
                            if metric not in go_metrics:  # a histogram's series
                                metric = re.sub(r"_(bucket|sum|count)$", "", metric)
                            assert metric in go_metrics, f"{panel['title']}: no Go code registers {metric}"
                        continue
                    sql = expand_grafana(target["rawSql"], {"trap": traps, "grouping": grouping})
                    result = db.query(sql, "JSON")
                    doc = json.loads(str(result))
                    # Types without their parameters (DateTime('UTC')) or nullability (scalar subqueries).
                    got = [(c["name"], re.sub(r"^(\w+)\(.*", r"\1", re.sub(r"^Nullable\((.*)\)$", r"\1", c["type"])))
                           for c in doc["meta"]]
                    assert got == GRAFANA_COLUMNS[panel["title"]], (panel["title"], got)
                    assert doc["data"], f"{panel['title']} answered nothing"
                    if panel["type"] == "timeseries":  # shares of all messages: each bucket stacks to 100%
                        buckets = {}
                        for row in doc["data"]:
                            buckets[row["time"]] = buckets.get(row["time"], 0) + row["share"]
                        assert all(abs(v - 100) < 1e-6 for v in buckets.values()), (panel["title"], buckets)
                    checked.add(panel["title"])
    assert checked == set(GRAFANA_COLUMNS)


def test_two_proportion_reference():
    """console/query/movers_test.go's expected z and p-values, recomputed with Python's statistics.NormalDist."""
    from statistics import NormalDist
    text = (ROOT / "console" / "query" / "movers_test.go").read_text()
    cases = re.findall(r"\{(\d+), (\d+), (\d+), (\d+), (-?[\d.e+-]+), ([\d.e+-]+)\}", text)
    assert len(cases) >= 3
    for k1, n1, k2, n2, z_go, p_go in cases:
        k1, n1, k2, n2 = map(int, (k1, n1, k2, n2))
        if n1 == 0 or n2 == 0 or k1 + k2 in (0, n1 + n2):
            continue
        pooled = (k1 + k2) / (n1 + n2)
        z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        p = 2 * (1 - NormalDist().cdf(abs(z)))
        assert abs(z - float(z_go)) < 1e-9 and abs(p - float(p_go)) < 1e-12, (k1, n1, k2, n2, z, p)
