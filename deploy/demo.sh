#!/usr/bin/env bash
# The demo behind `make demo`: two calibrated half-years of synthetic trap traffic, and real mail
# sent to a running `spamgeo trap`, travel through the real Kafka broker, are enriched with free DB-IP / ip-location-db data and stored in the real
# ClickHouse, and the press-release table is read back from ClickHouse.
#
# It works in its own database (spamgeo_demo) and topics (spamgeo-demo.*), which it resets
# first, so it can be run again and leaves the default names to a real pipeline.
NAME=demo
. "$(dirname "$0")/lib.sh"

EVENTS=${DEMO_EVENTS:-100000}
TRAP_MESSAGES=${DEMO_TRAP_MESSAGES:-500}
TRAP_ADDR=127.0.0.1:${DEMO_TRAP_PORT:-2525}
SPAMGEO=$ROOT/bin/spamgeo

"$ROOT/deploy/clickhouse.sh" start
"$ROOT/deploy/kafka.sh" start
"$ROOT/deploy/geoip.sh" fetch
"$ROOT/deploy/smtp-tools.sh" install
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

step "spamgeo trap on $TRAP_ADDR: Postfix's smtp-source sends $TRAP_MESSAGES messages, one relay attempt is refused"
port_open "${TRAP_ADDR##*:}" && die "$TRAP_ADDR is taken (DEMO_TRAP_PORT picks another port)"
rm -rf "$SPAMGEO_LOCAL/demo/archive" "$SPAMGEO_LOCAL/demo/evidence"
"$SPAMGEO" trap --listen "$TRAP_ADDR" --domains trap.example --metrics-listen "" --log-level warn --archive-dir "$SPAMGEO_LOCAL/demo/archive" &
trap_pid=$!
trap 'kill "$trap_pid" 2>/dev/null || true' EXIT # also when a step below fails
wait_listening() { for _ in $(seq 50); do port_open "${TRAP_ADDR##*:}" && return 0; sleep 0.2; done; return 1; }
wait_listening && kill -0 "$trap_pid" || die "the trap did not start"
/usr/sbin/smtp-source -s 8 -m "$TRAP_MESSAGES" -l 2048 -f bulk@sender.test -t victim@trap.example "$TRAP_ADDR"
if swaks --server "${TRAP_ADDR%:*}" --port "${TRAP_ADDR##*:}" --to someone@elsewhere.example --silent 2 >/dev/null 2>&1; then
  die "the trap relayed"
fi
echo "relay to someone@elsewhere.example: refused (550)"
kill "$trap_pid" && wait "$trap_pid"
trap - EXIT

step "spamgeo enrich --drain (DB-IP country, ip-location-db ASN)"
"$SPAMGEO" enrich --drain

step "spamgeo sink --drain (ClickHouse)"
"$SPAMGEO" sink --drain

step "the events went through Kafka: messages per topic, and rows in ClickHouse"
"$ROOT/deploy/kafka.sh" topics | grep '^spamgeo-demo\.'
rows=$("$ROOT/deploy/clickhouse.sh" client -q "SELECT count() FROM spamgeo_demo.events")
echo "ClickHouse spamgeo_demo.events: $rows rows"
want=$((2 * EVENTS + TRAP_MESSAGES))
[ "$rows" -eq "$want" ] || die "expected $want rows in ClickHouse (synth and trap), found $rows"
"$ROOT/deploy/clickhouse.sh" client -q "SELECT collector, count() FROM spamgeo_demo.events GROUP BY collector ORDER BY collector FORMAT PrettyCompact"

step "spamgeo report --period 2004-04-01..2004-09-30"
"$SPAMGEO" report --period 2004-04-01..2004-09-30

step "spamgeo report --period 2005-04-01..2005-09-30 --compare year"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year

mkdir -p "$SPAMGEO_LOCAL/demo"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year --format html -o "$SPAMGEO_LOCAL/demo/report.html"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --compare year --format png -o "$SPAMGEO_LOCAL/demo/bars.png"
echo "The same as a page with charts: $SPAMGEO_LOCAL/demo/report.html (and a chart: $SPAMGEO_LOCAL/demo/bars.png)"

step "spamgeo report --period 2005-04-01..2005-09-30 --per internet-user, and --per address-space (stored by the enricher)"
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --per internet-user --top 8
"$SPAMGEO" report --period 2005-04-01..2005-09-30 --per address-space --top 8

step "spamgeo campaigns --last 2d: the trap's mail grouped into campaigns"
"$SPAMGEO" campaigns --last 2d
campaign=$("$SPAMGEO" campaigns --last 2d --format csv | awk -F, 'NR == 2 { print $2 }')
[ -n "$campaign" ] || die "no campaign found in the trap's mail"

step "spamgeo evidence --campaign $campaign: its raw messages from the trap's archive, with a manifest"
"$SPAMGEO" evidence --last 2d --campaign "$campaign" --archive "$SPAMGEO_LOCAL/demo/archive" --out "$SPAMGEO_LOCAL/demo/evidence"
(cd "$SPAMGEO_LOCAL/demo/evidence" && sha256sum --quiet -c SHA256SUMS) || die "the evidence bundle does not verify"
echo "Bundle verified (sha256sum -c SHA256SUMS); summary: $SPAMGEO_LOCAL/demo/evidence/summary.html"
