"""deploy/nginx.conf, adapted to a test's loopback ports and a scratch directory.

Only what must differ on one machine without root changes: the API replicas (loopback
ports in an upstream block, where compose has the name `api` in its DNS), the template's
resolver, the listening address, and where Nginx keeps its pid, logs and temporary files.
Each change is checked to have taken, so the test keeps testing the shipped file, not a copy.
"""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY_NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
API_TARGET = re.compile(r"^(\s*)set \$chunkwise_api api:8000;$", re.MULTILINE)
RESOLVER = re.compile(r"^(\s*)resolver \$\{NGINX_LOCAL_RESOLVERS\} (.*);$", re.MULTILINE)
LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)


def adapted_nginx_conf(*, api_ports: list[int], port: int, scratch: Path) -> str:
    text = DEPLOY_NGINX_CONF.read_text(encoding="utf-8")

    # A name that matches an upstream block is not looked up in the DNS.
    text, targets = API_TARGET.subn(r"\g<1>set $chunkwise_api chunkwise_api;", text)
    text, resolvers = RESOLVER.subn(r"\g<1>resolver 127.0.0.1 \g<2>;", text)
    upstreams = targets * resolvers
    text, listens = LISTEN.subn(rf"\g<1>listen 127.0.0.1:{port};", text)
    text, workers = re.subn(r"^worker_processes auto;$", "worker_processes 1;", text, flags=re.M)
    assert (upstreams, listens, workers) == (1, 1, 1), "deploy/nginx.conf changed shape"
    temp = {name: scratch / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    preamble = (
        f"daemon off;\npid {scratch / 'nginx.pid'};\nerror_log {scratch / 'error.log'} warn;\n"
    )
    servers = "".join(f"        server 127.0.0.1:{api};\n" for api in api_ports)
    scratch_paths = (
        "http {\n"
        f"    upstream chunkwise_api {{\n{servers}    }}\n"
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
