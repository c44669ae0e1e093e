#!/usr/bin/env bash
# Install (apt-get) and start a local PostgreSQL server bound to 127.0.0.1, create a test
# role and database, and print the URL the arena tests read from PREFLAB_TEST_POSTGRES_URL.
#
#   eval "$(.ci/postgres.sh)"      # exports PREFLAB_TEST_POSTGRES_URL
#
# Idempotent; meant for root on Debian 12 (PostgreSQL refuses to run as root, so the server
# runs as the postgres user through pg_ctlcluster). Everything but the export line goes to
# stderr. Override with PREFLAB_PG_USER / PREFLAB_PG_PASSWORD / PREFLAB_PG_DB.
set -euo pipefail

PG_USER="${PREFLAB_PG_USER:-preflab}"
PG_PASSWORD="${PREFLAB_PG_PASSWORD:-preflab}"
PG_DB="${PREFLAB_PG_DB:-preflab_test}"

log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

VER="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VER main"; then
  log "creating cluster $VER/main"
  pg_createcluster "$VER" main >&2
fi

CONF="/etc/postgresql/$VER/main/postgresql.conf"
if ! grep -q "^listen_addresses = '127.0.0.1'" "$CONF"; then
  log "binding to 127.0.0.1 only"
  sed -i "s/^#\?listen_addresses *=.*/listen_addresses = '127.0.0.1'/" "$CONF"
  grep -q "^listen_addresses" "$CONF" || echo "listen_addresses = '127.0.0.1'" >> "$CONF"
  if pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $4}' | grep -q online; then
    pg_ctlcluster "$VER" main restart >&2
  fi
fi

PORT="$(pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $3}')"
if ! pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $4}' | grep -q online; then
  log "starting cluster $VER/main on port $PORT"
  pg_ctlcluster "$VER" main start >&2
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || { log "server did not come up"; exit 1; }

psql_admin() { su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -tAq -c \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != "1" ]; then
  log "creating role $PG_USER"
  psql_admin "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$PG_DB'")" != "1" ]; then
  log "creating database $PG_DB"
  psql_admin "CREATE DATABASE $PG_DB OWNER $PG_USER"
fi

URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PORT/$PG_DB"
echo "export PREFLAB_TEST_POSTGRES_URL=$URL"
