"""Images without a registry: a Debian root from debootstrap, and stand-ins for the
official images the deploy files name, built on it and tagged with those names.

A compose file or Dockerfile naming `python:3.11-slim` then finds
`docker.io/library/python:3.11-slim` in local storage and runs unchanged, with no pull.
The recipes are in standins/, one Containerfile per image plus the scripts that give
each the official image's behaviour where the deploy files rely on it.

Both steps are cached in podman's storage between runs: the base under a tag keyed by
how it was made, each stand-in under a tag keyed by a hash of the recipes (and of the
host's CA bundle, which the python stand-in carries), so a second run only re-tags.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

from tests.deploy.host import podman

STANDINS = Path(__file__).resolve().parent / "standins"
STANDIN_NAMES = ("python", "redis", "postgres", "nginx")
"""The official images there is a stand-in for: standins/Containerfile.<name>."""
SUITE = "bookworm"
BASE = f"localhost/debian:{SUITE}"
"""What the Containerfiles build FROM."""
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_CONTEXT = "host-ca-certificates.crt"
DEBOOTSTRAP_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 900.0
SCRATCH = Path("/var/tmp")
"""debootstrap makes device nodes: a real disk, not a tmpfs that may forbid them."""

POLICY_RC_D = (
    "#!/bin/sh\n# No service starts while a package installs in a container build.\nexit 101\n"
)
APT_CLEAN = (
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
)
"""As Debian's own container images keep no downloaded packages."""

Timer = Callable[[str], AbstractContextManager[object]]
"""Times a step under a name (the session's timing table)."""


def apt_mirror() -> str:
    """The Debian mirror apt uses on this machine (its deb822 sources, else sources.list)."""
    if APT_SOURCES.exists():
        for stanza in APT_SOURCES.read_text(encoding="utf-8").split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+)$", stanza, re.MULTILINE))
            if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                return str(fields["URIs"].split()[0])
    if APT_SOURCES_LIST.exists():
        found = re.search(
            rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", APT_SOURCES_LIST.read_text(), re.M
        )
        if found:
            return found.group(1)
    return DEFAULT_MIRROR


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], capture_output=True).returncode == 0


def image_id(name: str) -> str | None:
    """The id of the image `name` names, or None when there is none."""
    found = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None if found.returncode == 0 else None


def remove_image(image: str) -> None:
    """Remove an image no container uses any more; one still in use stays."""
    subprocess.run(["podman", "rmi", image], capture_output=True, check=False)


def base_key(mirror: str) -> str:
    made_by = f"debootstrap --variant=minbase {SUITE} {mirror}\n{POLICY_RC_D}{APT_CLEAN}"
    return hashlib.sha256(made_by.encode()).hexdigest()[:16]


def ensure_base(timed: Timer) -> str:
    """localhost/debian:bookworm, made by debootstrap unless an earlier run made it the
    same way; the keyed tag it is kept under."""
    mirror = apt_mirror()
    keyed = f"{BASE}-{base_key(mirror)}"
    if not image_exists(keyed):
        with tempfile.TemporaryDirectory(prefix="chunkwise-debootstrap-", dir=SCRATCH) as tmp:
            root = Path(tmp) / "root"
            with timed("debootstrap minbase"):
                _debootstrap(root, mirror, Path(tmp) / "debootstrap.log")
            _container_tweaks(root)
            with timed("podman import (base)"):
                _import(root, keyed)
    podman("tag", keyed, BASE)
    return keyed


def _debootstrap(root: Path, mirror: str, log: Path) -> None:
    with log.open("wb") as output:
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=DEBOOTSTRAP_TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"debootstrap exited {done.returncode}:\n{tail}")


def _container_tweaks(root: Path) -> None:
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(POLICY_RC_D)
    policy.chmod(0o755)
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / cache).glob("*"):
            if path.is_file():
                path.unlink()


def _import(root: Path, tag: str) -> None:
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    imported = subprocess.run(
        ["podman", "import", "--change", 'CMD ["bash"]', "-", tag],
        stdin=tar.stdout,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise RuntimeError(f"importing the Debian root failed: {imported.stderr}")


def recipes_key(base: str) -> str:
    """A hash of everything a stand-in is made of: the recipes, the base, the CA bundle."""
    digest = hashlib.sha256(base.encode())
    for path in sorted(STANDINS.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        digest.update(str(path.stat().st_mode & 0o111).encode())
    if HOST_CA_BUNDLE.exists():
        digest.update(HOST_CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def standin_tag(name: str, key: str) -> str:
    return f"localhost/chunkwise-standin-{name}:{key}"


def ensure_standins(official: dict[str, list[str]], base: str, timed: Timer) -> dict[str, str]:
    """Build each stand-in unless built from these recipes before, then tag it with the
    official names the deploy files use; the stand-in tag of each."""
    key = recipes_key(base)
    tags = {name: standin_tag(name, key) for name in STANDIN_NAMES}
    missing = [name for name, tag in tags.items() if not image_exists(tag)]
    if missing:
        with (
            timed(f"stand-in images ({', '.join(missing)})"),
            tempfile.TemporaryDirectory(prefix="chunkwise-standins-") as tmp,
        ):
            context = Path(tmp) / "context"
            shutil.copytree(STANDINS, context)
            if HOST_CA_BUNDLE.exists():
                shutil.copyfile(HOST_CA_BUNDLE, context / CA_IN_CONTEXT)
            # Parallel: the builds mostly wait on the mirror.
            with ThreadPoolExecutor(max_workers=len(missing)) as pool:
                builds = [pool.submit(_build, context, name, tags[name]) for name in missing]
                for build in builds:
                    build.result()
    for name, tag in tags.items():
        for official_name in official.get(name, []):
            podman("tag", tag, official_name)
    return tags


def _build(context: Path, name: str, tag: str) -> None:
    done = subprocess.run(
        [
            "podman",
            "build",
            "--file",
            str(context / f"Containerfile.{name}"),
            "--tag",
            tag,
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"the {name} stand-in did not build:\n{output}")


IMAGE_LINE = re.compile(r"^\s*image:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)
FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.M | re.I)
ARG_LINE = re.compile(r"^\s*ARG\s+(\w+)=['\"]?([^'\"\s]+)", re.MULTILINE | re.IGNORECASE)


def official_images(dockerfile: Path, compose_file: Path) -> dict[str, list[str]]:
    """The official images the deploy files name (the Dockerfile's FROM lines, with its
    ARG defaults, and the compose file's `image:` lines), fully qualified, by stand-in."""
    named = dockerfile_bases(dockerfile.read_text(encoding="utf-8"))
    named += IMAGE_LINE.findall(compose_file.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for name in dict.fromkeys(qualified(name) for name in named):
        repository = re.sub(r"(@.*|:[^/]*)$", "", name)
        standin = repository.removeprefix("docker.io/library/")
        if standin in STANDIN_NAMES and "@" not in name:
            found.setdefault(standin, []).append(name)
    return found


def dockerfile_bases(text: str) -> list[str]:
    """The images a Dockerfile builds FROM (not its own stages), ARG defaults filled in."""
    defaults = dict(ARG_LINE.findall(text))
    stages: set[str] = set()
    bases: list[str] = []
    for base, stage in FROM_LINE.findall(text):
        name = re.sub(
            r"\$\{?(\w+)\}?", lambda found: defaults.get(found.group(1), found.group(0)), base
        )
        if name.lower() not in stages:
            bases.append(name)
        if stage:
            stages.add(stage.lower())
    return bases


def qualified(name: str) -> str:
    """`redis:7-alpine` as a Docker engine reads it: docker.io/library/redis:7-alpine."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if ":" not in path.rsplit("/", 1)[-1] and "@" not in path:
        path += ":latest"
    return f"{registry}/{path}"
