#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the tests use are reachable; start them when
# they are installed but stopped. Under CI=true an unreachable service is an error.
set -uo pipefail

PG_HOST=${PGW_TEST_PG_HOST:-127.0.0.1}
PG_PORT=${PGW_TEST_PG_PORT:-5432}
REDIS_HOST=${PGW_TEST_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${PGW_TEST_REDIS_PORT:-6379}

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  local host=$1 port=$2
  for _ in $(seq 1 30); do reachable "$host" "$port" && return 0; sleep 0.5; done
  return 1
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$version" ] || return 1
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || return 1
  echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
}

status=0
if ! reachable "$PG_HOST" "$PG_PORT"; then
  start_postgres && wait_for "$PG_HOST" "$PG_PORT"
  if ! reachable "$PG_HOST" "$PG_PORT"; then
    echo "error: PostgreSQL is unreachable at $PG_HOST:$PG_PORT and could not be started" >&2
    status=1
  fi
fi
if ! reachable "$REDIS_HOST" "$REDIS_PORT"; then
  start_redis && wait_for "$REDIS_HOST" "$REDIS_PORT"
  if ! reachable "$REDIS_HOST" "$REDIS_PORT"; then
    echo "error: Redis is unreachable at $REDIS_HOST:$REDIS_PORT and could not be started" >&2
    status=1
  fi
fi

if [ "$status" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true: the suite needs real PostgreSQL and Redis; refusing to run without them." >&2
    exit 1
  fi
  echo "warning: tests that need the missing service will be reported as skipped." >&2
fi
exit 0
