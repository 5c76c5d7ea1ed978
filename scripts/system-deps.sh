#!/usr/bin/env bash
# The Debian packages the tests need, installed when missing: Java for the Spark parity test,
# Chromium and Node.js for the web map's browser test, Prometheus for promtool (the alerting
# rules), PostgreSQL for the Dagster instance and MLflow store tests, NATS for the stream.
# Installs with apt-get as root (or through sudo without a password); otherwise says what is
# missing (those tests then skip, unless CI requires them).
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# PostgreSQL's server for the Dagster instance and MLflow store tests (the fixture starts its own).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# NATS with JetStream for the telemetry stream's tests (the fixture starts its own server).
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "note: missing Debian packages (${missing[*]}); install them as root to run every test"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no apt-get; install ${missing[*]} to run every test"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# prometheus's recommends (the exporters) are not needed, only promtool.
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
