#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft mode) for development and tests.
#
#   deploy/kafka.sh start|stop|status|topics|jars|delete-topics REGEX
#
# `topics` lists every topic with its message count (end offsets summed over partitions); `jars`
# resolves the jars only and prints their directory.
# The broker's jars are resolved by Maven from the version pinned in deploy/kafka/pom.xml (Kafka
# 4.x); KAFKA_VERSION=3.9 runs the older line pinned in deploy/kafka/3.9/pom.xml instead. Each
# version's jars have a directory of their own under $KAFKA_JARS (default .local/kafka/jars). The
# configuration, data and logs (server.log, controller.log, state-change.log) live under
# .local/kafka/. Kafka 3.9 cannot read storage that 4.x formatted (or whose metadata.version it
# raised), so give the 3.9 line its own SPAMGEO_LOCAL. The broker listens on 127.0.0.1 only:
# clients on $KAFKA_PORT (default 9092), the KRaft controller on $KAFKA_CONTROLLER_PORT (9093).
#
# One node of a multi-node cluster: give each node its own SPAMGEO_LOCAL and ports, and all of
# them the same KAFKA_CLUSTER_ID (22 characters, e.g. from `kafka-storage random-uuid`) and
# KAFKA_QUORUM_VOTERS (id@127.0.0.1:controller-port,...); KAFKA_NODE_ID names this node and
# KAFKA_REPLICATION (default 1) is the replication factor of new topics and the internal ones,
# KAFKA_MIN_INSYNC (default 2 when replicated) their min.insync.replicas. Start the nodes
# together: none finishes starting before a majority of the voters is up. The nodes may share one
# KAFKA_JARS.
#
# Secure mode (KAFKA_SECURE=1, on storage formatted in that mode): clients connect with TLS
# (a certificate from the local CA, $SPAMGEO_LOCAL/certs/ca.pem) and SASL/SCRAM as user
# `spamgeo` (SCRAM-SHA-256 or -512) with the password kept in $SPAMGEO_LOCAL/secrets/kafka;
# brokers talk to each other the same way as `admin`. The KRaft controller stays plaintext.
NAME=kafka
. "$(dirname "$0")/lib.sh"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:-768m}
KAFKA_SECURE=${KAFKA_SECURE:-0}
KAFKA_NODE_ID=${KAFKA_NODE_ID:-1}
KAFKA_QUORUM_VOTERS=${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}
KAFKA_REPLICATION=${KAFKA_REPLICATION:-1}
KAFKA_MIN_INSYNC=${KAFKA_MIN_INSYNC:-$((KAFKA_REPLICATION > 1 ? 2 : 1))}
DIR=$SPAMGEO_LOCAL/kafka
PIDFILE=$DIR/kafka.pid
LOGDIR=$DIR/logs

POM=$ROOT/deploy/kafka/pom.xml
if [ -n "${KAFKA_VERSION:-}" ]; then
  POM=$ROOT/deploy/kafka/$KAFKA_VERSION/pom.xml
  [ -f "$POM" ] || die "no deploy/kafka/$KAFKA_VERSION/pom.xml: leave KAFKA_VERSION unset for the default broker or name one of: $(cd "$ROOT/deploy/kafka" && ls -d -- */ | tr -d / | xargs)"
fi
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
[ -n "$VERSION" ] || die "$POM pins no kafka.version"
LIBS=${KAFKA_JARS:-$DIR/jars}/$VERSION

# Kafka 4 logs with log4j 2, Kafka 3 with log4j 1; each reads its own configuration file.
if [ "${VERSION%%.*}" -ge 4 ]; then
  LOG4J=2 LOG_CONFIG=$DIR/log4j2.yaml LOG_OPTION=-Dlog4j2.configurationFile=file:$DIR/log4j2.yaml
else
  LOG4J=1 LOG_CONFIG=$DIR/log4j.properties LOG_OPTION=-Dlog4j.configuration=file:$DIR/log4j.properties
fi

java_cp() { java -Xmx256m -cp "$LIBS/*" "$LOG_OPTION" "$@"; }

install_jars() {
  # Re-resolve when the pom changes.
  if [ -f "$LIBS/.pom" ] && cmp -s "$POM" "$LIBS/.pom"; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to resolve the Kafka jars"
  command -v java >/dev/null || die "Java 17 is needed to run the Kafka broker"
  log "resolving the jars of Kafka $VERSION with Maven (first run only)"
  rm -rf "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  cp "$POM" "$LIBS/.pom"
}

# listener: the protocol of the client and inter-broker listener.
listener() { if [ "$KAFKA_SECURE" = 1 ]; then echo SASL_SSL; else echo PLAINTEXT; fi; }

# admin_jaas: the JAAS login of the admin user, with which brokers and admin tools authenticate.
admin_jaas() {
  echo "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(cat "$(ensure_secret kafka-admin)")\";"
}

# secure_config prints the TLS and SASL settings of secure mode; the broker's PEM key store is
# its key followed by its certificate.
secure_config() {
  [ "$KAFKA_SECURE" = 1 ] || return 0
  ensure_certs
  cat "$CERTS/server.key" "$CERTS/server.pem" > "$DIR/keystore.pem"
  chmod 600 "$DIR/keystore.pem"
  local jaas; jaas=$(admin_jaas)
  cat <<PROPS
ssl.keystore.type=PEM
ssl.keystore.location=$DIR/keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS/ca.pem
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$jaas
PROPS
}

# client_config: the admin tools' connection settings in secure mode (prints the file's path).
client_config() {
  local file=$DIR/client.properties
  cat > "$file" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$(admin_jaas)
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS/ca.pem
PROPS
  chmod 600 "$file"
  echo "$file"
}

# admin_args: the arguments that connect the admin tools to the broker.
admin_args() {
  echo --bootstrap-server "127.0.0.1:$KAFKA_PORT"
  [ "$KAFKA_SECURE" = 1 ] && echo --command-config "$(client_config)"
  return 0
}

write_config() {
  mkdir -p "$DIR/data" "$LOGDIR"
  local proto; proto=$(listener)
  cat > "$DIR/server.properties" <<PROPS
# Generated by deploy/kafka.sh; edits are overwritten on start.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=$proto://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$proto://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=$proto
listener.security.protocol.map=$proto:$proto,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
auto.create.topics.enable=false
default.replication.factor=$KAFKA_REPLICATION
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_INSYNC
min.insync.replicas=$KAFKA_MIN_INSYNC
group.initial.rebalance.delay.ms=0
log.retention.hours=168
$(secure_config)
PROPS
  if [ "$LOG4J" = 2 ]; then write_log4j2; else write_log4j; fi
}

# write_log4j2: Kafka 4's logging (log4j 2, as the YAML of Kafka's own config/log4j2.yaml): the
# controller and the state changes of partitions in files of their own, the rest in server.log;
# each file rolls over at 50 MB, keeping three old ones.
write_log4j2() {
  local file
  printf '%s\n' "# Generated by deploy/kafka.sh; edits are overwritten on start." \
    "Configuration:" "  Appenders:" "    RollingFile:" > "$LOG_CONFIG"
  for file in server controller state-change; do
    cat >> "$LOG_CONFIG" <<YAML
      - name: $file
        fileName: "$LOGDIR/$file.log"
        filePattern: "$LOGDIR/$file.log.%i"
        PatternLayout:
          pattern: "[%d] %p %m (%c)%n"
        SizeBasedTriggeringPolicy:
          size: 50MB
        DefaultRolloverStrategy:
          max: 3
YAML
  done
  cat >> "$LOG_CONFIG" <<YAML
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        ref: server
    Logger:
      - name: org.apache.kafka.controller
        level: INFO
        additivity: false
        AppenderRef:
          ref: controller
      - name: state.change.logger
        level: INFO
        additivity: false
        AppenderRef:
          ref: state-change
YAML
}

# write_log4j: Kafka 3's logging (log4j 1), all in server.log, rolling over at 50 MB.
write_log4j() {
  cat > "$LOG_CONFIG" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGDIR/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
}

format_storage() {
  [ -f "$DIR/data/meta.properties" ] && return 0
  local id=${KAFKA_CLUSTER_ID:-}
  [ -n "$id" ] || id=$(java_cp kafka.tools.StorageTool random-uuid)
  log "formatting storage (cluster id $id)"
  local users=()
  if [ "$KAFKA_SECURE" = 1 ]; then
    local admin spamgeo
    admin=$(cat "$(ensure_secret kafka-admin)") spamgeo=$(cat "$(ensure_secret kafka)")
    users=(--add-scram "SCRAM-SHA-512=[name=admin,password=$admin]"
      --add-scram "SCRAM-SHA-256=[name=spamgeo,password=$spamgeo]"
      --add-scram "SCRAM-SHA-512=[name=spamgeo,password=$spamgeo]")
  fi
  java_cp kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" "${users[@]}" >&2
}

answers() {
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOGDIR/server.log" 2>/dev/null
}

start() {
  if running "$PIDFILE"; then
    log "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    die "127.0.0.1:$KAFKA_PORT is taken by a process this script did not start"
  fi
  install_jars
  write_config
  format_storage
  : > "$LOGDIR/server.log"
  nohup java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    "$LOG_OPTION" -Dkafka.logs.dir="$LOGDIR" \
    -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
    >"$LOGDIR/stdout.log" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
  wait_started 90 "$PIDFILE" "$LOGDIR/server.log" "$LOGDIR/stdout.log" -- answers
  log "started (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT; logs in $LOGDIR"
}

status() {
  if running "$PIDFILE" && port_open "$KAFKA_PORT"; then
    log "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT; logs in $LOGDIR"
  else
    log "not running"; return 1
  fi
}

# topics: lists topics with their total message counts (end offsets summed over partitions).
topics() {
  status 2>/dev/null || die "not running"
  # shellcheck disable=SC2046 # admin_args are words
  java_cp org.apache.kafka.tools.GetOffsetShell $(admin_args) \
    2>/dev/null | awk -F: '{n[$1]+=$3} END {for (t in n) printf "%s\t%d\n", t, n[t]}' | sort
}

# delete_topics REGEX: deletes the topics whose names match REGEX, if any.
delete_topics() {
  status 2>/dev/null || die "not running"
  # shellcheck disable=SC2046 # admin_args are words
  java_cp org.apache.kafka.tools.TopicCommand $(admin_args) \
    --delete --if-exists --topic "$1" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$PIDFILE" ;;
  status) status ;;
  topics) topics ;;
  jars) install_jars; echo "$LIBS" ;;
  delete-topics) [ $# -eq 2 ] || die "usage: $0 delete-topics REGEX"; delete_topics "$2" ;;
  *) echo "usage: $0 start|stop|status|topics|jars|delete-topics REGEX" >&2; exit 2 ;;
esac
