#!/bin/sh
# The official nginx image's entrypoint protocol: when the command is nginx, each file of
# /docker-entrypoint.d runs in version order first; an executable *.envsh is sourced (what
# it exports reaches nginx and the later scripts), an executable *.sh runs as a program.
set -e

log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    # Sourced scripts must change this shell's environment: no pipe into the loop.
    scripts="$(find /docker-entrypoint.d/ -follow -type f -print | sort -V)"
    for script in $scripts; do
        if [ ! -x "$script" ]; then
            log "$0: Ignoring $script, not executable"
            continue
        fi
        case "$script" in
            *.envsh) log "$0: Sourcing $script"; . "$script" ;;
            *.sh) log "$0: Launching $script"; "$script" ;;
            *) log "$0: Ignoring $script" ;;
        esac
    done
    log "$0: Configuration complete; ready for start up"
fi

exec "$@"
