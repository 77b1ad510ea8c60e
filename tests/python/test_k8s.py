"""The Kubernetes manifests, checked offline: `kubectl kustomize k8s/`
renders them, every object validates against the Kubernetes API schemas
(kubernetes-validate, strict: unknown fields are errors), and the parts
that must agree with how Hayate runs do agree (drain vs grace period,
probes on the status port, non-root, autoscaler metrics that exist)."""

import pathlib
import re
import shutil
import subprocess
import time

import kubernetes_validate
import pytest
import yaml

from conftest import start_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
# The oldest Kubernetes minor still maintained upstream; the manifests use
# nothing newer.
KUBERNETES_VERSION = "1.31.0"


@pytest.fixture(scope="module")
def objects():
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render k8s/ (kubectl kustomize)"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S)], check=True, capture_output=True, text=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_every_object_validates_against_the_kubernetes_schemas(objects):
    kinds = sorted(kind for kind, _ in objects)
    assert kinds == sorted(
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "PodDisruptionBudget",
            "Secret",
            "Secret",
            "Service",
            "Service",
            "Service",
        ]
    )
    for (kind, name), obj in objects.items():
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{kind}/{name}: {e.message} at {list(e.path)}")


def test_a_broken_manifest_is_caught(objects):
    # The validator is not a rubber stamp: a misspelt field fails.
    worker = dict(objects[("Deployment", "hayate-worker")])
    worker["spec"] = {**worker["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, KUBERNETES_VERSION, strict=True)


def container(objects, name):
    return objects[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]


def env_of(objects, name):
    c = container(objects, name)
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    for source in c.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        obj = objects[(kind, ref["name"])]
        env.update(obj.get("data") or obj.get("stringData") or {})
    return env


def test_worker_drain_fits_in_the_grace_period(objects):
    pod = objects[("Deployment", "hayate-worker")]["spec"]["template"]["spec"]
    env = env_of(objects, "hayate-worker")
    drain = int(env["HAYATE_DRAIN_GRACE_SECS"])
    assert pod["terminationGracePeriodSeconds"] >= drain + 10
    pre_stop = container(objects, "hayate-worker")["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[:2] == ["/usr/local/bin/hayate", "drain"]
    # The preStop drains the port the worker listens on.
    assert pre_stop[pre_stop.index("--worker") + 1].endswith(":" + env["HAYATE_PORT"])
    assert ("Service", "hayate-coordinator") in objects


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_coordinators_are_several_spread_and_share_a_catalog(objects):
    deployment = objects[("Deployment", "hayate-coordinator")]
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] >= 2
    # A rolling update never takes the last coordinator away.
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = objects[("PodDisruptionBudget", "hayate-coordinator")]["spec"]
    assert budget["minAvailable"] >= 1 and budget["minAvailable"] < spec["replicas"]
    assert labels_match(budget["selector"], pod_labels)
    # Spread over nodes.
    terms = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    term = terms[0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert labels_match(term["labelSelector"], pod_labels)
    # Every coordinator keeps its tables in the same catalog, sealed with
    # the same key from a Secret.
    env = env_of(objects, "hayate-coordinator")
    assert env["HAYATE_CATALOG"].startswith("s3://")
    key_file = env["HAYATE_CATALOG_KEY_FILE"]
    mounts = container(objects, "hayate-coordinator")["volumeMounts"]
    mount = next(m for m in mounts if key_file.startswith(m["mountPath"] + "/"))
    volume = next(
        v for v in spec["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    key_secret = objects[("Secret", volume["secret"]["secretName"])]
    assert key_file.rsplit("/", 1)[1] in key_secret["stringData"]
    # Workers find every coordinator through the headless Service.
    peers = objects[("Service", "hayate-coordinator-peers")]["spec"]
    assert peers["clusterIP"] == "None"
    assert all(pod_labels.get(k) == v for k, v in peers["selector"].items())
    worker_env = env_of(objects, "hayate-worker")
    port = next(p["port"] for p in peers["ports"] if p["name"] == "flight-sql")
    assert worker_env["HAYATE_COORDINATOR"] == f"http://hayate-coordinator-peers:{port}"


def test_pods_run_as_non_root_with_probes_and_resources(objects):
    for name in ["hayate-coordinator", "hayate-worker"]:
        pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        c = container(objects, name)
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        status_port = int(env_of(objects, name)["HAYATE_STATUS_PORT"])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["status"] == status_port
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"]:
            assert c[probe]["httpGet"]["port"] == "status"
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert "HAYATE_CLUSTER_SECRET" in env_of(objects, name)


def test_worker_service_is_headless(objects):
    assert objects[("Service", "hayate-worker")]["spec"]["clusterIP"] == "None"


@pytest.fixture(scope="module")
def metric_names_served(hayate_bin):
    """Metric names a real coordinator and worker serve on /metrics."""
    import urllib.request

    coordinator, (flight, coordinator_status) = start_server(
        [hayate_bin, "coordinator", "--bind", "127.0.0.1", "--port", "0", "--status-port", "0"],
        labels=("listening", "status"),
    )
    procs = [coordinator]
    try:
        worker, (_, worker_status) = start_server(
            [hayate_bin, "worker", "--coordinator", flight, "--bind", "127.0.0.1",
             "--port", "0", "--status-port", "0"],
            labels=("listening", "status"),
        )
        procs.append(worker)
        names = set()
        for status in [coordinator_status, worker_status]:
            deadline = time.time() + 30
            while True:
                try:
                    url = f"{status}/readyz"
                    with urllib.request.urlopen(url, timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.time() < deadline, f"{url} never became ready"
                time.sleep(0.2)
            with urllib.request.urlopen(f"{status}/metrics", timeout=5) as r:
                page = r.read().decode()
            names |= set(re.findall(r"^# TYPE (\S+) ", page, re.M))
        return names
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_autoscalers_read_metrics_hayate_serves(objects, metric_names_served):
    served = metric_names_served
    assert "hayate_queries_queued" in served and "hayate_worker_tasks_running" in served
    hpa = objects[("HorizontalPodAutoscaler", "hayate-worker")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "hayate-worker"
    types = {m["type"] for m in hpa["metrics"]}
    assert {"Resource", "Pods"} <= types
    for m in hpa["metrics"]:
        if m["type"] == "Pods":
            assert m["pods"]["metric"]["name"] in served
    keda = yaml.safe_load((K8S / "examples/keda-scaledobject.yaml").read_text())
    assert keda["kind"] == "ScaledObject"
    assert keda["spec"]["scaleTargetRef"]["name"] == "hayate-worker"
    for trigger in keda["spec"]["triggers"]:
        if trigger["type"] == "prometheus":
            for name in re.findall(r"hayate_[a-z_]+", trigger["metadata"]["query"]):
                assert name in served, name
