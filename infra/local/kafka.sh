#!/usr/bin/env bash
# Start, stop or report a single-node Apache Kafka broker in KRaft mode on
# 127.0.0.1:9092 (controller on 9093), from jars resolved from Maven Central.
#
# Usage: kafka.sh up | down | status | resolve (fetch the jars only)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_VERSION="4.0.1"   # Pinned: 4.0.x works with aiokafka 0.14 and confluent-kafka 2.6+.
KAFKA_PORT="${HEALS_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${HEALS_KAFKA_CONTROLLER_PORT:-9093}"
LIBS="$HEALS_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
STATE="$HEALS_STATE_DIR/kafka"
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/broker.log"

resolve_jars() {
    # Maven copies the broker and its runtime dependencies once; later runs reuse the cache.
    [[ -f "$LIBS/.complete" ]] && return 0
    require_command java "a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)"
    require_command mvn "Apache Maven (Debian: apt-get install maven)"
    echo "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central into $LIBS"
    mkdir -p "$LIBS"
    mvn -q -B -f "$HEALS_REPO_ROOT/infra/local/kafka/pom.xml" dependency:copy-dependencies \
        -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$LIBS" -DincludeScope=runtime \
        || fail "Maven could not resolve the Kafka broker jars; see the output above"
    touch "$LIBS/.complete"
}

write_config() {
    mkdir -p "$STATE/data"
    cat >"$STATE/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/data
num.partitions=6
# A single broker can only keep one copy. Production runs replication
# factor 3 with min.insync.replicas=2 (see infra/k8s).
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPERTIES
}

format_storage() {
    # KRaft storage is formatted once; meta.properties marks a formatted log folder.
    [[ -f "$STATE/data/meta.properties" ]] && return 0
    local cluster_id
    cluster_id="$(java -cp "$LIBS/*" org.apache.kafka.common.Uuid 2>/dev/null || true)"
    [[ -n "$cluster_id" ]] || cluster_id="$(python3 -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')"
    java -cp "$LIBS/*" -Dlog4j2.configurationFile="$HEALS_REPO_ROOT/infra/local/kafka/log4j2.yaml" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" >>"$LOG" 2>&1 \
        || fail "formatting Kafka storage in $STATE/data failed; see $LOG"
}

up() {
    if pid_alive "$PIDFILE"; then
        echo "kafka: already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT"
        return 0
    fi
    port_open "$KAFKA_PORT" && fail "127.0.0.1:$KAFKA_PORT is in use by another process; stop it or set HEALS_KAFKA_BOOTSTRAP to use it"
    require_command java "a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)"
    resolve_jars
    mkdir -p "$STATE"
    write_config
    format_storage
    nohup java -Xms256m -Xmx768m -cp "$LIBS/*" \
        -Dlog4j2.configurationFile="$HEALS_REPO_ROOT/infra/local/kafka/log4j2.yaml" \
        -Dkafka.logs.dir="$STATE" \
        kafka.Kafka "$STATE/server.properties" >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    wait_for_port "$KAFKA_PORT" 90 kafka "$LOG"
    echo "kafka: up on 127.0.0.1:$KAFKA_PORT (log $LOG)"
}

status() {
    if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then
        echo "kafka: up on 127.0.0.1:$KAFKA_PORT, pid $(cat "$PIDFILE"), log $LOG"
    else
        echo "kafka: down (log $LOG)"
        return 1
    fi
}

case "${1:-}" in
    up) up ;;
    down) stop_pidfile "$PIDFILE" kafka ;;
    status) status ;;
    resolve) resolve_jars ;;
    *) fail "usage: $0 up | down | status | resolve" ;;
esac
