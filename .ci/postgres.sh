# A throw-away PostgreSQL 15 on loopback, run as a non-root user (it refuses root).
# Source it, then: pg_start (sets PG_URL), pg_stop. Used by .ci/run and bench/.
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-54329}"

pg_start() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "installing PostgreSQL 15" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    fi
  fi
  PG_DIR="$(mktemp -d)"
  local runas=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    chown postgres "$PG_DIR"
    runas=(runuser -u postgres --)
  fi
  # An ICU English collation, as production databases have: catches code that assumes
  # byte order in string comparisons.
  "${runas[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U ajeya \
    --locale-provider=icu --icu-locale=en-IN --locale=C.UTF-8 >/dev/null
  "${runas[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  PG_URL="postgres://ajeya@127.0.0.1:$PG_PORT/postgres"
  PG_RUNAS=("${runas[@]}")
  export PG_URL
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
