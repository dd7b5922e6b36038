#!/bin/sh
# The official redis image's entrypoint, as far as a compose file can tell: options alone
# run redis-server; redis-server runs as the redis user, owning /data; and without a config
# file that sets protected-mode, protected mode is off (Debian's default keeps it on and
# refuses every other container: "DENIED Redis is running in protected mode").
set -eu

case "${1:-}" in
    -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Files the server writes are its own, as with the official image.
[ "$(umask)" = 0022 ] && umask 0077

if [ "${1:-}" = redis-server ]; then
    config=""
    if [ -f "${2:-}" ]; then
        config="$2"
    fi
    if [ -z "$config" ] || ! grep -q '^protected-mode' "$config"; then
        shift
        if [ -n "$config" ]; then
            shift
            set -- "$config" --protected-mode no "$@"
        else
            set -- --protected-mode no "$@"
        fi
        set -- redis-server "$@"
    fi
fi

exec "$@"
