#!/bin/sh
# Entry point of the compose `mosquitto` service (busybox sh in eclipse-mosquitto:2).
#
# Runs Mosquitto and reloads it (SIGHUP) whenever the password file or ACL changes. They are
# rewritten from the device registry by whichever Wayhouse container provisions an agent
# (`wayhouse devices sync|add|revoke`, the simulator), and those containers cannot signal a
# process in this one, so the broker side watches the files instead. SIGHUP re-reads them
# without dropping connections, sessions or queues. SIGTERM is passed on, so Mosquitto saves
# its persistence file (queued messages of offline sessions) before the container stops.
set -u

MOSQUITTO="${MOSQUITTO_BIN:-/usr/sbin/mosquitto}"
CONF="${MOSQUITTO_CONF:-/etc/wayhouse/mosquitto/mosquitto.conf}"
AUTH_DIR="${WAYHOUSE_AUTH_DIR:-/wayhouse/mosquitto}"
POLL_S="${WAYHOUSE_AUTH_POLL_SECONDS:-2}"

for f in passwd acl; do
    if [ ! -r "$AUTH_DIR/$f" ]; then
        echo "run.sh: $AUTH_DIR/$f is missing or unreadable; it is written by" \
            "\`wayhouse devices sync\` (the provision service) as uid 1883" >&2
        exit 1
    fi
done

fingerprint() {
    cat "$AUTH_DIR/passwd" "$AUTH_DIR/acl" 2>/dev/null | md5sum
}

"$MOSQUITTO" -c "$CONF" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null' TERM INT

last="$(fingerprint)"
while kill -0 "$broker" 2>/dev/null; do
    sleep "$POLL_S" &
    wait $! 2>/dev/null
    now="$(fingerprint)"
    if [ "$now" != "$last" ] && kill -0 "$broker" 2>/dev/null; then
        echo "run.sh: password file or ACL changed; reloading mosquitto" >&2
        kill -HUP "$broker"
        last="$now"
    fi
done
wait "$broker"
exit $?
