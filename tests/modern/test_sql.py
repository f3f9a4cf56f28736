"""The modern-engine lane: the same DDL and queries spamgeo sends to ClickHouse, run in chdb
(ClickHouse 26.x in-process), because the local server is 18.16 and users run current
versions. The SQL is read from the files the Go binary embeds, never copied here."""

import re
from pathlib import Path

import pytest
from chdb import session

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "schemas" / "migrations"
QUERIES = ROOT / "query" / "sql"


def statements(path):
    """Splits a SQL file the way schemas/migrations does: comments dropped, ';' ends a line."""
    text = re.sub(r"--.*$", "", path.read_text(), flags=re.M)
    return [s.strip().rstrip(";").strip() for s in text.split(";\n") if s.strip().rstrip(";").strip()]


def bind(sql, *params):
    """Binds '?' placeholders as clickhouse-go does on the client: quoted, escaped literals."""
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, "placeholder count"
    out = parts[0]
    for p, rest in zip(params, parts[1:]):
        out += "'" + str(p).replace("\\", "\\\\").replace("'", "\\'") + "'" + rest
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


def migrate(s):
    s.query((MIGRATIONS / "ledger.sql").read_text())
    for path in sorted(MIGRATIONS.glob("[0-9]*.sql")):
        for stmt in statements(path):
            s.query(stmt)


def test_migrations_apply_twice(db):
    migrate(db)
    before = rows(db, "SELECT table, name, type FROM system.columns WHERE database = 'spamgeo' ORDER BY table, name")
    migrate(db)
    after = rows(db, "SELECT table, name, type FROM system.columns WHERE database = 'spamgeo' ORDER BY table, name")
    assert before == after
    tables = {r[0]: r[1] for r in rows(db, "SELECT name, engine FROM system.tables WHERE database = 'spamgeo'")}
    assert tables == {
        "events": "MergeTree",
        "daily_country": "SummingMergeTree",
        "daily_country_mv": "MaterializedView",
        "schema_migrations": "MergeTree",
    }


def test_rollup_and_report_query(db):
    migrate(db)
    db.query(
        "INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, size) VALUES "
        "(generateUUIDv4(), '2005-03-31 23:59:59', 't', 'synth', IPv6StringToNum('::ffff:30.0.0.1'), 'US', 'NA', 100),"
        "(generateUUIDv4(), '2005-04-01 00:00:00', 't', 'synth', IPv6StringToNum('::ffff:30.0.0.2'), 'US', 'NA', 100),"
        "(generateUUIDv4(), '2005-04-01 12:00:00', 't', 'synth', IPv6StringToNum('::ffff:31.0.0.1'), 'KR', 'AS', 100),"
        "(generateUUIDv4(), '2005-09-30 23:59:59', 't', 'synth', IPv6StringToNum('2a00:3::1'), 'CN', 'AS', 100),"
        "(generateUUIDv4(), '2005-09-30 23:59:59', 't', 'synth', IPv6StringToNum('::ffff:30.0.0.3'), 'US', 'NA', 100),"
        "(generateUUIDv4(), '2005-10-01 00:00:00', 't', 'synth', IPv6StringToNum('::ffff:30.0.0.4'), 'US', 'NA', 100)"
    )
    assert rows(db, "SELECT toString(day), country_code, sum(messages), sum(bytes) FROM daily_country "
                    "GROUP BY day, country_code ORDER BY day, country_code") == [
        ["2005-03-31", "US", "1", "100"],
        ["2005-04-01", "KR", "1", "100"],
        ["2005-04-01", "US", "1", "100"],
        ["2005-09-30", "CN", "1", "100"],
        ["2005-09-30", "US", "1", "100"],
        ["2005-10-01", "US", "1", "100"],
    ]
    sql = (QUERIES / "messages_by_country.sql").read_text()
    assert rows(db, bind(sql, "2005-04-01", "2005-10-01")) == [["US", "2"], ["CN", "1"], ["KR", "1"]]
    assert rows(db, bind(sql, "2006-01-01", "2006-02-01")) == []


def test_every_query_file_is_covered():
    """A new query file must get a test here before it ships."""
    assert sorted(p.name for p in QUERIES.glob("*.sql")) == ["messages_by_country.sql"]
