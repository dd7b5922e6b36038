"""deploy/nginx.conf, adapted to a test's loopback ports and a scratch directory.

Only what must differ on one machine without root changes: the upstream servers, the
listening address, and where Nginx keeps its pid, logs and temporary files. Each change
is checked to have taken, so the test keeps testing the shipped file, not a copy.
"""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY_NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
UPSTREAM_SERVER = re.compile(r"^(\s*)server api:8000 (.*);$", re.MULTILINE)
LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)


def adapted_nginx_conf(*, api_ports: list[int], port: int, scratch: Path) -> str:
    text = DEPLOY_NGINX_CONF.read_text(encoding="utf-8")

    def servers(found: re.Match[str]) -> str:
        indent, options = found.group(1), found.group(2)
        return "\n".join(f"{indent}server 127.0.0.1:{api} {options};" for api in api_ports)

    text, upstreams = UPSTREAM_SERVER.subn(servers, text)
    text, listens = LISTEN.subn(rf"\g<1>listen 127.0.0.1:{port};", text)
    text, workers = re.subn(r"^worker_processes auto;$", "worker_processes 1;", text, flags=re.M)
    assert (upstreams, listens, workers) == (1, 1, 1), "deploy/nginx.conf changed shape"
    temp = {name: scratch / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    preamble = (
        f"daemon off;\npid {scratch / 'nginx.pid'};\nerror_log {scratch / 'error.log'} warn;\n"
    )
    scratch_paths = (
        "http {\n"
        f"    access_log off;\n"
        f"    client_body_temp_path {temp['client_body']};\n"
        f"    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n"
        f"    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
    )
    text, https = re.subn(r"^http \{\n", scratch_paths, text, flags=re.MULTILINE)
    assert https == 1, "deploy/nginx.conf changed shape"
    return preamble + text
