#!/bin/sh
# The official postgres image's entrypoint, as far as a compose file can tell: on an empty
# PGDATA, initdb (UTF8, C.UTF-8: a SQL_ASCII cluster makes psycopg 3 return bytes) with
# POSTGRES_USER and POSTGRES_PASSWORD, password authentication (POSTGRES_HOST_AUTH_METHOD,
# scram-sha-256 by default) for every host, and POSTGRES_DB created; then the server runs
# as the postgres user.
set -eu

case "${1:-}" in
    -*) set -- postgres "$@" ;;
esac

if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

initialise() {
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        echo "       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)." >&2
        exit 1
    fi
    password_file="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$password_file"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as upstream reads it
    initdb --username="$user" --pwfile="$password_file" -E UTF8 --locale=C.UTF-8 \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
    rm -f "$password_file"
    printf '\nhost all all all %s\n' "$method" >> "$PGDATA/pg_hba.conf"

    # A server on the socket only, for the database and the init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$database" != postgres ]; then
        echo "CREATE DATABASE \"$database\";" \
            | psql -v ON_ERROR_STOP=1 --no-password --username "$user" --dbname postgres
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "running $script"; . "$script" ;;
            *.sql) echo "running $script"
                psql -v ON_ERROR_STOP=1 --no-password --username "$user" --dbname "$database" \
                    -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
}

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
fi

exec "$@"
