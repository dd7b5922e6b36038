#!/bin/sh
# Every NGINX_ENVSUBST_TEMPLATE_DIR/**/*NGINX_ENVSUBST_TEMPLATE_SUFFIX (/etc/nginx/templates,
# .template) becomes the same path under NGINX_ENVSUBST_OUTPUT_DIR (/etc/nginx/conf.d)
# without the suffix, with ${VAR} and $VAR replaced for the variables defined in the
# environment (whose names match NGINX_ENVSUBST_FILTER) only: nginx's own $host and the
# like stay as they are.
set -e

log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    log "$0: ERROR: $template_dir exists, but $output_dir is not writable"
    exit 0
fi

defined="$(awk "END { for (name in ENVIRON) if (name ~ /${filter}/) printf \"\${%s} \", name }" \
    < /dev/null)"

find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative="${template#"$template_dir"/}"
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    log "$0: Running envsubst on $template to $output"
    envsubst "$defined" < "$template" > "$output"
done
