#!/usr/bin/env bash
# System packages Wayhouse needs: PostgreSQL server, Mosquitto, Chromium and a CJK font
# (browser tests).
# Installs what is missing when run as root on Debian; otherwise says exactly what is missing
# and how to point Wayhouse at existing services instead.
set -euo pipefail

need=()
have_pg() { ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1; }
have_mosq() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
have_chromium() { [ -x /usr/bin/chromium ]; }
# Chinese labels in the browser (and in the journeys' screenshots) need a CJK font.
have_cjk_font() { ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || fc-list :lang=zh 2>/dev/null | grep -q .; }

have_pg || need+=(postgresql postgresql-contrib)
have_mosq || need+=(mosquitto mosquitto-clients)
if [ "${WAYHOUSE_BROWSER_TESTS:-1}" = "1" ]; then
  have_chromium || need+=(chromium)
  have_cjk_font || need+=(fonts-noto-cjk)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "wayhouse: missing system packages: ${need[*]}" >&2
  echo "  install them (Debian: sudo apt-get install ${need[*]})," >&2
  echo "  or use existing services: WAYHOUSE_DB_URL=postgresql://user:pass@host:5432/db" >&2
  echo "  and WAYHOUSE_MQTT_URL=mqtt://user:pass@host:1883" >&2
  # Only fatal when the embedded services are wanted.
  if [ -z "${WAYHOUSE_DB_URL:-}" ] && ! have_pg; then exit 1; fi
  if [ -z "${WAYHOUSE_MQTT_URL:-}" ] && ! have_mosq; then exit 1; fi
  exit 0
fi

echo "wayhouse: installing ${need[*]}"
# Debian's packages would create and start a system-wide cluster and broker on the default
# ports; Wayhouse runs its own on ports of its own, so keep the package scripts from starting
# services (policy-rc.d, only while we install) and from creating the 'main' cluster.
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
trap '[ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "wayhouse: installed ${need[*]}"
