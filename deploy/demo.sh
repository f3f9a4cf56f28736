#!/usr/bin/env bash
# The demo behind `make demo`: two calibrated half-years of trap traffic travel through the
# real Kafka broker, are enriched with free DB-IP / ip-location-db data and stored in the real
# ClickHouse, and the press-release table is read back from ClickHouse.
#
# It works in its own database (spamgeo_demo) and topics (spamgeo-demo.*), which it resets
# first, so it can be run again and leaves the default names to a real pipeline.
NAME=demo
. "$(dirname "$0")/lib.sh"

EVENTS=${DEMO_EVENTS:-100000}
SPAMGEO=$ROOT/bin/spamgeo

"$ROOT/deploy/clickhouse.sh" start
"$ROOT/deploy/kafka.sh" start
"$ROOT/deploy/geoip.sh" fetch
[ -x "$SPAMGEO" ] || die "$SPAMGEO is missing; run make build"

eval "export $("$ROOT/deploy/geoip.sh" paths | tr '\n' ' ')"
export SPAMGEO_CLICKHOUSE_DATABASE=spamgeo_demo
export SPAMGEO_KAFKA_RAW_TOPIC=spamgeo-demo.raw
export SPAMGEO_KAFKA_ENRICHED_TOPIC=spamgeo-demo.enriched
export SPAMGEO_KAFKA_DLQ_TOPIC=spamgeo-demo.dlq
run=$(date +%s)
export SPAMGEO_ENRICH_GROUP=spamgeo-demo-enrich-$run SPAMGEO_SINK_GROUP=spamgeo-demo-sink-$run

step() { printf '\n== %s\n' "$*" >&2; }

step "resetting the demo's database and topics"
"$ROOT/deploy/clickhouse.sh" client -q "DROP DATABASE IF EXISTS spamgeo_demo"
"$ROOT/deploy/kafka.sh" delete-topics 'spamgeo-demo\..*'

step "spamgeo migrate"
"$SPAMGEO" migrate

step "spamgeo synth: April-September 2004 and April-September 2005, $EVENTS events each"
"$SPAMGEO" synth --profile sophos-2004-apr-sep --events "$EVENTS" --seed 2004 >/dev/null
"$SPAMGEO" synth --profile sophos-2005-apr-sep --events "$EVENTS" --seed 2005 >/dev/null

step "spamgeo enrich --drain (DB-IP country, ip-location-db ASN)"
"$SPAMGEO" enrich --drain

step "spamgeo sink --drain (ClickHouse)"
"$SPAMGEO" sink --drain

step "the events went through Kafka: messages per topic, and rows in ClickHouse"
"$ROOT/deploy/kafka.sh" topics | grep '^spamgeo-demo\.'
rows=$("$ROOT/deploy/clickhouse.sh" client -q "SELECT count() FROM spamgeo_demo.events")
echo "ClickHouse spamgeo_demo.events: $rows rows"
[ "$rows" -eq $((2 * EVENTS)) ] || die "expected $((2 * EVENTS)) rows in ClickHouse, found $rows"

step "spamgeo report --period 2004-04-01..2004-09-30"
"$SPAMGEO" report --period 2004-04-01..2004-09-30

step "spamgeo report --period 2005-04-01..2005-09-30 --compare year"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year

mkdir -p "$SPAMGEO_LOCAL/demo"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year --format html -o "$SPAMGEO_LOCAL/demo/report.html"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year --format png -o "$SPAMGEO_LOCAL/demo/bars.png"
echo "The same as a page with charts: $SPAMGEO_LOCAL/demo/report.html (and a chart: $SPAMGEO_LOCAL/demo/bars.png)"
