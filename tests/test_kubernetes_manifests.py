"""The Kubernetes manifests (deploy/kubernetes): every built-in object validates against the
schemas of the Kubernetes they are for, the KEDA ScaledObject watches the lists chunks
really wait in, and the settings the manifests pass are real ones that agree with each
other. A unit test: kubernetes-validate is a library call, and nothing is applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kombu.transport.redis import Channel as RedisChannel

from chunkwise.config import Settings
from chunkwise.engine.celery_app import PRIORITY_STEPS
from chunkwise.workloads import declared_limits

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"
"""The oldest Kubernetes the manifests are for. Strict schemas of this version: a field it
does not know, misspelt or newer, fails."""
CUSTOM_GROUPS = frozenset({"keda.sh"})
"""API groups of custom resources, which kubernetes-validate has no schema for: checked by
hand below."""
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
SECRET_TEMPLATE = "secret.example.yaml"
"""Filled in and applied by the operator, so on purpose in no kustomization."""

Manifest = dict[str, Any]


def load(folder: Path) -> dict[str, Manifest]:
    """Every YAML document under `folder`, by `file#index`."""
    documents: dict[str, Manifest] = {}
    for path in sorted(folder.rglob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is not None:
                documents[f"{path.relative_to(folder)}#{index}"] = document
    return documents


DOCUMENTS = load(MANIFESTS)


def group(document: Manifest) -> str:
    return str(document["apiVersion"]).rpartition("/")[0]


OBJECTS = {key: doc for key, doc in DOCUMENTS.items() if group(doc) != KUSTOMIZE_GROUP}
BUILT_IN = {key: doc for key, doc in OBJECTS.items() if group(doc) not in CUSTOM_GROUPS}


def only(kind: str, **labels: str) -> Manifest:
    """The one object of `kind` whose labels include `labels`."""
    found = [
        doc
        for doc in OBJECTS.values()
        if doc["kind"] == kind and labels.items() <= doc["metadata"].get("labels", {}).items()
    ]
    assert len(found) == 1, f"{len(found)} {kind} objects labelled {labels}"
    return found[0]


def component(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/component": name}


def pod_specs() -> Iterator[tuple[str, Manifest]]:
    for doc in OBJECTS.values():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers(spec: Manifest) -> list[Manifest]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(kind: str, name: str) -> Manifest:
    main: Manifest
    (main,) = only(kind, **component(name))["spec"]["template"]["spec"]["containers"]
    return main


def configured_environment() -> dict[str, str]:
    """What every chunkwise pod reads through envFrom: the ConfigMap, then the Secret."""
    config = only("ConfigMap")["data"]
    secret = only("Secret")["stringData"]
    return {**config, **secret}


def setting_names() -> set[str]:
    """The environment variables chunkwise reads: CHUNKWISE_<FIELD>, the fields' CHUNKWISE_
    aliases, and the workload limits' own variables."""
    names = {f"CHUNKWISE_{name.upper()}" for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        names |= {c for c in choices if isinstance(c, str) and c.startswith("CHUNKWISE_")}
    return names | {f"CHUNKWISE_{name.upper()}" for name in declared_limits()}


@pytest.mark.parametrize("key", sorted(BUILT_IN))
def test_built_in_objects_validate(key: str) -> None:
    used = kubernetes_validate.validate(BUILT_IN[key], KUBERNETES_VERSION, strict=True)
    assert used == KUBERNETES_VERSION


def test_only_keda_objects_are_custom() -> None:
    custom = {key: doc["kind"] for key, doc in OBJECTS.items() if key not in BUILT_IN}
    assert custom == {"autoscaling/worker-scaledobject.yaml#0": "ScaledObject"}


def test_every_manifest_is_in_a_kustomization() -> None:
    listed = set()
    for path in MANIFESTS.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        listed |= {
            (path.parent / name).resolve()
            for name in kustomization.get("resources", [])
            if name.endswith(".yaml")
        }
    files = {
        path.resolve()
        for path in MANIFESTS.rglob("*.yaml")
        if path.name not in ("kustomization.yaml", SECRET_TEMPLATE)
    }
    assert files == listed


def test_the_configured_environment_makes_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in configured_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings().rate_limit_storage == "broker"


def test_every_chunkwise_variable_is_a_setting() -> None:
    names = set(configured_environment())
    for _, spec in pod_specs():
        names |= {var["name"] for c in containers(spec) for var in c.get("env", [])}
    unknown = {name for name in names if name.startswith("CHUNKWISE_")} - setting_names()
    assert not unknown, f"not chunkwise settings: {sorted(unknown)}"


def test_worker_grace_period_outlasts_its_drain() -> None:
    worker = only("Deployment", **component("worker"))["spec"]["template"]["spec"]
    drain_s = float(only("ConfigMap")["data"]["CHUNKWISE_WORKER_DRAIN_S"])
    assert worker["terminationGracePeriodSeconds"] >= drain_s + 10


def test_api_probes_hit_live_and_ready_on_its_port() -> None:
    api = container("Deployment", "api")
    (port,) = api["ports"]
    probes = {kind: api[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")}
    probes["readinessProbe"] = api["readinessProbe"]["httpGet"]
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/live",
        "livenessProbe": "/live",
        "readinessProbe": "/ready",
    }
    assert all(probe["port"] == port["name"] for probe in probes.values())
    assert not any("httpHeaders" in probe for probe in probes.values())
    assert port["containerPort"] == 8000
    annotations = only("Deployment", **component("api"))["spec"]["template"]["metadata"]
    assert annotations["annotations"]["prometheus.io/port"] == str(port["containerPort"])


def test_the_service_and_the_ingress_reach_the_api() -> None:
    service = only("Service", **component("api"))
    (port,) = service["spec"]["ports"]
    (api_port,) = container("Deployment", "api")["ports"]
    assert (port["port"], port["targetPort"]) == (80, api_port["name"])
    deployment = only("Deployment", **component("api"))
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (rule,) = only("Ingress")["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert (backend["name"], backend["port"]["name"]) == (service["metadata"]["name"], "http")
    assert rule["host"] in only("ConfigMap")["data"]["CHUNKWISE_ALLOWED_HOSTS"].split(",")


def test_the_worker_probes_its_heartbeat_and_caches_kernels_writably() -> None:
    worker = container("Deployment", "worker")
    assert worker["livenessProbe"]["exec"]["command"] == [
        "python",
        "-m",
        "chunkwise.probe",
        "worker",
    ]
    assert worker["args"][0] == "worker"
    (cache_dir,) = [var["value"] for var in worker["env"] if var["name"] == "NUMBA_CACHE_DIR"]
    mounts = {mount["mountPath"]: mount["name"] for mount in worker["volumeMounts"]}
    spec = only("Deployment", **component("worker"))["spec"]["template"]["spec"]
    empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
    assert mounts[cache_dir] in empty_dirs


@pytest.mark.parametrize("name", [name for name, _ in pod_specs()])
def test_pods_run_as_non_root_on_a_read_only_root(name: str) -> None:
    spec = dict(pod_specs())[name]
    assert spec["securityContext"]["runAsNonRoot"] is True
    # A Service named chunkwise-api would otherwise set CHUNKWISE_API_PORT=tcp://...
    assert spec["enableServiceLinks"] is False
    empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
    for each in containers(spec):
        assert each["securityContext"]["readOnlyRootFilesystem"] is True
        assert each["securityContext"]["allowPrivilegeEscalation"] is False
    for main in spec["containers"]:
        mounts = {mount["mountPath"]: mount["name"] for mount in main["volumeMounts"]}
        assert {mounts.get("/tmp"), mounts.get("/var/lib/chunkwise")} <= empty_dirs


def redis_lists(queue: str) -> set[str]:
    """The Redis lists kombu keeps for `queue`: the bare name for priority step 0, the name,
    kombu's separator and the step for the others (`Channel._q_for_pri`)."""
    return {queue if step == 0 else f"{queue}{RedisChannel.sep}{step}" for step in PRIORITY_STEPS}


def test_the_scaled_object_scales_workers_on_every_chunk_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHUNKWISE_CHUNK_QUEUE", raising=False)
    queue = Settings().chunk_queue
    scaled = only("ScaledObject")
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    worker = only("Deployment", **component("worker"))
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert scaled["spec"]["minReplicaCount"] >= 1  # workers run the background duties
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] > 0

    triggers = scaled["spec"]["triggers"]
    assert {trigger["type"] for trigger in triggers} == {"redis"}
    lists = {trigger["name"]: trigger["metadata"]["listName"] for trigger in triggers}
    assert lists["urgent"] == queue
    assert set(lists.values()) == redis_lists(queue)
    formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
    assert formula.replace(" ", "").split("+") == list(lists)


def test_the_scaled_object_reads_the_broker() -> None:
    broker = urlsplit(only("ConfigMap")["data"]["CHUNKWISE_BROKER_URL"])
    namespace = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["namespace"]
    address = f"{broker.hostname}.{namespace}.svc.cluster.local:{broker.port}"
    scaled = only("ScaledObject")
    assert scaled["metadata"]["namespace"] == namespace
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["metadata"]["address"] == address
        assert trigger["metadata"]["databaseIndex"] == broker.path.strip("/")
