"""The Helm chart (deploy/helm/a3t), rendered offline by the real Helm engine (helm-python-sdk) and
checked against the Kubernetes schemas (kubernetes-validate, strict) and against the code: ports,
health service names, settings fields and metric names come from the services themselves.

Three value sets: the defaults (CPU, SmolLM2), "gpu" (local engines on GPUs) and "tgi" (TGI +
a GPU trainer + a GPU critic on the local engine + ServiceMonitor + the experiment Job).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from a3t.settings import load_settings
from tests.conftest import REPO_ROOT

CHART = REPO_ROOT / "deploy" / "helm" / "a3t"
DASHBOARD = CHART / "dashboards" / "a3t.json"
KUBE_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
RELEASE, NAMESPACE = "demo", "ml"
SERVICES = ("env", "policy", "actre", "critic", "trainer", "controller")
MODEL_SERVICES = ("policy", "actre", "critic")
GPU = "nvidia.com/gpu"
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)

VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "gpu": {"services": {name: {"gpus": 1} for name in (*MODEL_SERVICES, "trainer")}},
    "tgi": {
        "tgi": {
            "enabled": True,
            "loraAdapters": [
                {"name": "a3t-round-0", "path": "/var/lib/a3t/artifacts/a3t/round-0/adapter"}
            ],
            "hfTokenSecret": {"name": "hf-token", "key": "HF_TOKEN"},
        },
        "services": {"trainer": {"gpus": 1}, "critic": {"engine": "local", "gpus": 1}},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "experiment": {
            "create": True,
            "config": {
                "name": "a3t",
                "train_split": "gen_l1_s0_n24",
                "eval_split": "gen_l1_s1000_n12",
                "base_model": "mistralai/Mistral-7B-Instruct-v0.2",
            },
        },
    },
    # The shared token and TLS from Secrets, and the experiment Job that must send them too.
    "secured": {
        "auth": {"tokenSecret": "a3t-token"},
        "tls": {"secret": "a3t-tls"},
        "experiment": {"create": True},
    },
}
# Components that must request a GPU, per value set.
EXPECTED_GPU = {
    "default": set(),
    "gpu": {"policy", "actre", "critic", "trainer"},
    "tgi": {"tgi", "trainer", "critic"},
    "secured": set(),
}


def _settings_classes() -> dict[str, type]:
    from a3t_actre.config import ActReSettings
    from a3t_controller.config import ControllerSettings
    from a3t_critic.config import CriticSettings
    from a3t_env.config import EnvSettings
    from a3t_policy.config import PolicySettings
    from a3t_trainer.config import TrainerSettings

    return {
        "env": EnvSettings,
        "policy": PolicySettings,
        "actre": ActReSettings,
        "critic": CriticSettings,
        "trainer": TrainerSettings,
        "controller": ControllerSettings,
    }


def _health_names() -> dict[str, str]:
    """Full gRPC service names, from the generated descriptors (what serve() registers)."""
    from a3t.actre.v1 import actre_pb2
    from a3t.controller.v1 import controller_pb2
    from a3t.critic.v1 import critic_pb2
    from a3t.env.v1 import env_pb2
    from a3t.policy.v1 import policy_pb2
    from a3t.trainer.v1 import trainer_pb2

    pairs = {
        "env": (env_pb2, "EnvService"),
        "policy": (policy_pb2, "PolicyService"),
        "actre": (actre_pb2, "ActReService"),
        "critic": (critic_pb2, "CriticService"),
        "trainer": (trainer_pb2, "TrainerService"),
        "controller": (controller_pb2, "ControllerService"),
    }
    return {k: mod.DESCRIPTOR.services_by_name[svc].full_name for k, (mod, svc) in pairs.items()}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Rendered manifests (NOTES.txt and empty templates left out), each with its template path
    under the "_template" key."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["_template"] = path
                docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def renders() -> dict[str, list[dict[str, Any]]]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: dict) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def by_component(docs: list[dict], kind: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for doc in of_kind(docs, kind):
        assert component(doc) not in found, f"two {kind}s for {component(doc)}"
        found[component(doc)] = doc
    return found


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "Job")
    ]


def container_env(deployment: dict) -> dict[str, str]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def labels_match(selector: dict, labels: dict) -> bool:
    """Kubernetes label-selector semantics (matchLabels + matchExpressions In/NotIn/Exists)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and expr["key"] not in labels:
            return False
    return True


# --- the chart as Helm sees it


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_lint_is_clean_in_strict_mode(value_set: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[value_set], strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert report["errors"] == [] and problems == [], report


def test_schema_refuses_latest_tags_unknown_keys_and_wrong_types() -> None:
    with helm.Chart.load(CHART) as chart:
        for values, fragment in (
            ({"image": {"tag": "latest"}}, "/image/tag"),
            ({"tgi": {"image": {"tag": "latest"}}}, "/tgi/image/tag"),
            ({"services": {"policy": {"image": {"tag": "latest"}}}}, "/services/policy/image/tag"),
            ({"services": {"env": {"prot": 1}}}, "prot"),
            ({"services": {"controller": {"replicas": 2}}}, "/services/controller/replicas"),
            ({"services": {"policy": {"port": "50052"}}}, "/services/policy/port"),
            # The openai engine adds /v1 itself and refuses an endpoint that has it.
            (
                {"services": {"policy": {"engine": "openai", "endpoint": "http://vllm:8000/v1"}}},
                "/services/policy/endpoint",
            ),
        ):
            with pytest.raises(helm.HelmValuesError, match=re.escape(fragment)):
                chart.render(values, name=RELEASE, namespace=NAMESPACE)


def test_a_gpu_on_a_remote_engine_is_refused_with_the_fix() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as caught:
        chart.render(
            {"tgi": {"enabled": True}, "services": {"policy": {"gpus": 1}}},
            name=RELEASE,
            namespace=NAMESPACE,
        )
    assert "services.policy.gpus" in str(caught.value)
    assert "set services.policy.gpus to 0" in str(caught.value)


def test_settings_cannot_move_the_ports_behind_the_services_back() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as caught:
        chart.render({"services": {"env": {"settings": {"port": 6000}}}}, name=RELEASE)
    assert "services.env.settings.port" in str(caught.value)


def test_an_experiment_on_another_base_model_than_the_policy_is_refused() -> None:
    values = {"tgi": {"enabled": True}, "experiment": {"create": True}}
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert "set experiment.config.base_model to" in str(caught.value)
    # The packaged default's alias counts as the same model.
    config = {"name": "x", "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    values = {"experiment": {"create": True, "config": config}}
    assert of_kind(render(values), "Job")


def test_every_value_in_values_yaml_is_documented() -> None:
    """Each value (a key with something after its colon) has a comment block right above it,
    unless an ancestor's "# --" comment documents the whole object (podSecurityContext's fields,
    the default experiment config); grouping keys need none."""
    undocumented = []
    stack: list[tuple[int, bool]] = []  # (indent, documented by a "# --" comment)
    comments: list[str] = []  # the comment block just above the current line
    for number, line in enumerate((CHART / "values.yaml").read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w./-]*):(.*)$", line)
        if match:
            indent, has_value = len(match.group(1)), bool(match.group(3).strip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            covered = any(doc for _, doc in stack)
            if has_value and not (covered or comments):
                undocumented.append(f"line {number}: {stripped}")
            stack.append((indent, covered or any(c.startswith("# --") for c in comments)))
        comments = []
    assert undocumented == []


# --- every manifest against the Kubernetes schemas


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_manifests_validate_against_kubernetes_schemas_strictly(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    checked, errors = 0, []
    for doc in renders[value_set]:
        manifest = {k: v for k, v in doc.items() if k != "_template"}
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema in kubernetes-validate; test_servicemonitor checks it
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{doc['_template']} {doc['kind']} at {path}: {exc.message}")
        checked += 1
    assert errors == []
    assert checked >= 2 * len(SERVICES) + 5, f"only {checked} manifests rendered"


# --- shape of the release


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_one_deployment_and_one_service_per_service(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    docs = renders[value_set]
    expected = set(SERVICES) | ({"tgi"} if value_set == "tgi" else set())
    assert set(by_component(docs, "Deployment")) == expected
    assert set(by_component(docs, "Service")) == expected
    # One resource per template file.
    templates = [d["_template"] for d in docs]
    assert len(templates) == len(set(templates))


def test_optional_services_can_be_left_out_and_the_controller_is_told() -> None:
    docs = render({"services": {"actre": {"enabled": False}, "critic": {"enabled": False}}})
    assert set(by_component(docs, "Deployment")) == {"env", "policy", "trainer", "controller"}
    env = container_env(by_component(docs, "Deployment")["controller"])
    assert env["A3T_CONTROLLER_ACTRE_TARGET"] == ""
    assert env["A3T_CONTROLLER_CRITIC_TARGET"] == ""
    assert env["A3T_CONTROLLER_POLICY_TARGET"] == f"{RELEASE}-a3t-policy:50052"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_gpu_requests_and_gpu_placement_only_where_configured(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    gpu_values = yaml.safe_load((CHART / "values.yaml").read_text())["gpu"]
    for name, dep in by_component(renders[value_set], "Deployment").items():
        spec = dep["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        resources = container.get("resources", {})
        wants_gpu = name in EXPECTED_GPU[value_set]
        assert (GPU in resources.get("limits", {})) == wants_gpu, name
        assert (GPU in resources.get("requests", {})) == wants_gpu, name
        if wants_gpu:
            assert resources["limits"][GPU] == 1
            assert spec["nodeSelector"].items() >= gpu_values["nodeSelector"].items(), name
            assert all(t in spec["tolerations"] for t in gpu_values["tolerations"]), name
            assert dep["spec"]["strategy"]["type"] == "Recreate", name
        else:
            assert "nodeSelector" not in spec and "tolerations" not in spec, name
        if name in (*MODEL_SERVICES, "trainer"):
            device = container_env(dep).get(f"A3T_{name.upper()}_DEVICE")
            if name == "trainer" or container_env(dep)[f"A3T_{name.upper()}_ENGINE"] == "local":
                assert device == ("cuda" if wants_gpu else "cpu"), name
            else:
                assert device is None, name  # a remote engine has no device


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_grpc_probes_name_the_service_health_and_its_port(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    health = _health_names()
    classes = _settings_classes()
    services = by_component(renders[value_set], "Service")
    for name, dep in by_component(renders[value_set], "Deployment").items():
        if name == "tgi":
            continue
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        default_port = next(
            f.default for f in dataclasses.fields(classes[name]) if f.name == "port"
        )
        default_metrics = next(
            f.default for f in dataclasses.fields(classes[name]) if f.name == "metrics_port"
        )
        assert ports == {"grpc": default_port, "metrics": default_metrics}, name
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if value_set == "secured":  # the kubelet's gRPC probe cannot speak TLS
                assert "grpc" not in container[probe]
                assert container[probe]["tcpSocket"] == {"port": default_port}
            else:
                assert container[probe]["grpc"] == {"port": default_port, "service": health[name]}
        service_ports = {p["name"]: p for p in services[name]["spec"]["ports"]}
        assert service_ports["grpc"]["port"] == default_port
        assert service_ports["grpc"]["targetPort"] == "grpc"
        assert service_ports["metrics"]["port"] == default_metrics


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_rendered_settings_are_accepted_by_the_services_own_config(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    """The A3T_<SERVICE>_* env vars load through each service's load_settings without a
    ConfigError: every field exists, every value parses and passes the service's checks."""
    classes = _settings_classes()
    for name, dep in by_component(renders[value_set], "Deployment").items():
        if name == "tgi":
            continue
        env = {k: v for k, v in container_env(dep).items() if v is not None}
        settings = load_settings(classes[name], name, [], environ=env)
        assert settings.host == "0.0.0.0"
        # load_settings reads only the fields it knows: a misspelt variable would be ignored.
        prefix = f"A3T_{name.upper()}_"
        fields = {f.name for f in dataclasses.fields(classes[name])}
        unknown = [
            k for k in env if k.startswith(prefix) and k[len(prefix) :].lower() not in fields
        ]
        assert unknown == [], name
        assert {k for k in env if k.startswith(prefix)}, name


def test_env_worker_limits_reach_the_env_service(renders: dict[str, list[dict]]) -> None:
    env = container_env(by_component(renders["default"], "Deployment")["env"])
    settings = load_settings(_settings_classes()["env"], "env", [], environ=env)
    assert (settings.workers, settings.recycle_after_loads) == (2, 200)
    assert (settings.recycle_above_rss_mib, settings.max_opens_per_worker) == (768, 4)


def test_model_services_point_at_the_charts_tgi(renders: dict[str, list[dict]]) -> None:
    docs = renders["tgi"]
    tgi_service = by_component(docs, "Service")["tgi"]
    assert [p["port"] for p in tgi_service["spec"]["ports"]] == [80]
    deployments = by_component(docs, "Deployment")
    tgi_container = deployments["tgi"]["spec"]["template"]["spec"]["containers"][0]
    assert "--enable-prefill-logprobs" in tgi_container["args"]
    tgi_env = {e["name"]: e for e in tgi_container["env"]}
    assert tgi_env["LORA_ADAPTERS"]["value"] == (
        "a3t-round-0=/var/lib/a3t/artifacts/a3t/round-0/adapter"
    )
    assert tgi_env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hf-token"
    model_id = (
        VALUE_SETS["tgi"].get("tgi", {}).get("modelId")
        or yaml.safe_load((CHART / "values.yaml").read_text())["tgi"]["modelId"]
    )
    for name in ("policy", "actre"):
        env = container_env(deployments[name])
        assert env[f"A3T_{name.upper()}_ENGINE"] == "tgi"
        assert env[f"A3T_{name.upper()}_ENDPOINT"] == f"http://{tgi_service['metadata']['name']}"
        assert env[f"A3T_{name.upper()}_MODEL"] == model_id
    # The critic was kept on its own GPU with the local engine.
    assert container_env(deployments["critic"])["A3T_CRITIC_ENGINE"] == "local"
    # The engines wait for the chart's TGI as long as its startup probe allows.
    window = (
        10 * yaml.safe_load((CHART / "values.yaml").read_text())["tgi"]["startupFailureThreshold"]
    )
    for name in ("policy", "actre"):
        timeout = container_env(deployments[name])[f"A3T_{name.upper()}_ENGINE_TIMEOUT_SECONDS"]
        assert float(timeout) == window >= 300
    # A gated model: the token reaches TGI, the tgi engines (tokenizer) and the trainer (weights).
    for name in ("tgi", "policy", "actre", "critic", "trainer"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hf-token", name


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_controller_targets_are_the_rendered_services(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    docs = renders[value_set]
    services = by_component(docs, "Service")
    env = container_env(by_component(docs, "Deployment")["controller"])
    for peer in ("env", "policy", "actre", "critic", "trainer"):
        grpc_port = next(p["port"] for p in services[peer]["spec"]["ports"] if p["name"] == "grpc")
        target = f"{services[peer]['metadata']['name']}:{grpc_port}"
        assert env[f"A3T_CONTROLLER_{peer.upper()}_TARGET"] == target


def test_shared_volume_is_mounted_alike_in_trainer_controller_and_model_services(
    renders: dict[str, list[dict]],
) -> None:
    for value_set in ("default", "tgi"):
        docs = renders[value_set]
        (claim,) = [d for d in of_kind(docs, "PersistentVolumeClaim") if component(d) == "shared"]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        users = ["trainer", "controller", *MODEL_SERVICES] + (["tgi"] if value_set == "tgi" else [])
        deployments = by_component(docs, "Deployment")
        for name in users:
            spec = deployments[name]["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert (
                volumes["shared"]["persistentVolumeClaim"]["claimName"]
                == (claim["metadata"]["name"])
            ), name
            mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
            assert mounts["shared"] == "/var/lib/a3t", name
        # Adapters are written by the trainer under the controller's artifacts_dir, on it.
        env = container_env(deployments["controller"])
        assert env["A3T_CONTROLLER_ARTIFACTS_DIR"].startswith("/var/lib/a3t/")
        assert container_env(deployments["trainer"])["A3T_TRAINER_STATE_DIR"].startswith(
            "/var/lib/a3t/"
        )


# --- security and hygiene


SECURITY_ENV = {
    "A3T_AUTH_TOKEN_FILE": "/etc/a3t/auth/token",
    "A3T_TLS_CERT_FILE": "/etc/a3t/tls/tls.crt",
    "A3T_TLS_KEY_FILE": "/etc/a3t/tls/tls.key",
    "A3T_TLS_CA_FILE": "/etc/a3t/tls/ca.crt",
}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_a3t_pod_gets_the_token_and_tls_secrets_only_when_given(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    """Servers and clients read the same variables (a3t.rpc.security): every a3t pod and the
    experiment Job mount both Secrets read-only and point the variables at their files."""
    pods = [
        (name, spec)
        for name, spec in pod_specs(renders[value_set])
        if not name.startswith("Deployment/demo-a3t-tgi")
    ]
    assert len(pods) == len(SERVICES) + (1 if value_set in ("tgi", "secured") else 0)
    for name, spec in pods:
        (container,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        if value_set != "secured":
            assert not set(env) & set(SECURITY_ENV), name
            assert "auth" not in volumes and "tls" not in volumes, name
            continue
        assert {k: env.get(k) for k in SECURITY_ENV} == SECURITY_ENV, name
        assert mounts["auth"] == {"name": "auth", "mountPath": "/etc/a3t/auth", "readOnly": True}
        assert mounts["tls"] == {"name": "tls", "mountPath": "/etc/a3t/tls", "readOnly": True}
        assert volumes["auth"]["secret"]["secretName"] == "a3t-token"
        assert [i["key"] for i in volumes["auth"]["secret"]["items"]] == ["token"]
        assert volumes["tls"]["secret"]["secretName"] == "a3t-tls"
        assert [i["key"] for i in volumes["tls"]["secret"]["items"]] == [
            "tls.crt",
            "tls.key",
            "ca.crt",
        ]
        assert volumes["auth"]["secret"]["defaultMode"] == 0o440, name


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_pods_disable_service_links_and_tokens(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    specs = pod_specs(renders[value_set])
    assert specs
    for where, spec in specs:
        assert spec["enableServiceLinks"] is False, where
        assert spec["automountServiceAccountToken"] is False, where


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_images_are_pinned(renders: dict[str, list[dict]], value_set: str) -> None:
    with helm.Chart.load(CHART) as chart:
        app_version = chart.metadata["appVersion"]
    for where, spec in pod_specs(renders[value_set]):
        for container in spec["containers"]:
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{where}: {image} has no tag"
            assert tag and tag != "latest", f"{where}: {image}"
            if "a3t-" in name:
                assert tag == app_version, f"{where}: {image}"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_recommended_labels_everywhere_and_selectors_match_pods(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    docs = renders[value_set]
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        missing = [k for k in RECOMMENDED_LABELS if k not in labels]
        assert missing == [], f"{doc['_template']}: {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/part-of"] == "a3t"
    for dep in of_kind(docs, "Deployment"):
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert all(k in pod_labels for k in RECOMMENDED_LABELS)
        assert labels_match(dep["spec"]["selector"], pod_labels)
    deployments = of_kind(docs, "Deployment")
    for svc in of_kind(docs, "Service"):
        selected = [
            d
            for d in deployments
            if labels_match(
                {"matchLabels": svc["spec"]["selector"]},
                d["spec"]["template"]["metadata"]["labels"],
            )
        ]
        assert [component(d) for d in selected] == [component(svc)]


# --- network policy


def _allowed(docs: list[dict], target: dict, source_labels: dict, port_name: str) -> bool:
    """Whether some NetworkPolicy of the release lets a pod with `source_labels` in the release
    namespace reach `port_name` of the Deployment `target`'s pods."""
    target_labels = target["spec"]["template"]["metadata"]["labels"]
    for policy in of_kind(docs, "NetworkPolicy"):
        if not labels_match(policy["spec"]["podSelector"], target_labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port_name not in ports:
                continue
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    continue  # another namespace (Prometheus)
                if labels_match(peer.get("podSelector", {}), source_labels):
                    return True
    return False


def _scrapable(docs: list[dict], target: dict, port_name: str) -> bool:
    """Whether a NetworkPolicy lets the configured Prometheus peer reach `port_name`."""
    target_labels = target["spec"]["template"]["metadata"]["labels"]
    prometheus = yaml.safe_load((CHART / "values.yaml").read_text())["networkPolicy"]["prometheus"]
    return any(
        prometheus in rule.get("from", [])
        and {"port": port_name, "protocol": "TCP"} in rule["ports"]
        for policy in of_kind(docs, "NetworkPolicy")
        if labels_match(policy["spec"]["podSelector"], target_labels)
        for rule in policy["spec"]["ingress"]
    )


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_network_policy_lets_only_the_controller_reach_the_services(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    docs = renders[value_set]
    deployments = by_component(docs, "Deployment")
    # Every a3t pod is selected by a policy (so ingress is denied unless allowed).
    for name, dep in deployments.items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert any(
            labels_match(p["spec"]["podSelector"], labels) for p in of_kind(docs, "NetworkPolicy")
        ), name
    controller = deployments["controller"]["spec"]["template"]["metadata"]["labels"]
    stranger = {"app.kubernetes.io/name": "something", "app": "curl"}
    for name in ("env", "policy", "actre", "critic", "trainer"):
        assert _allowed(docs, deployments[name], controller, "grpc"), name
        assert not _allowed(docs, deployments[name], stranger, "grpc"), name
        for other in ("env", "policy", "actre", "critic", "trainer"):
            peer = deployments[other]["spec"]["template"]["metadata"]["labels"]
            assert not _allowed(docs, deployments[name], peer, "grpc"), f"{other} -> {name}"
        assert not _allowed(docs, deployments[name], controller, "metrics"), name
    # The controller takes clients labelled as such, not arbitrary pods.
    client = {"a3t.dev/controller-client": "true"}
    assert _allowed(docs, deployments["controller"], client, "grpc")
    assert not _allowed(docs, deployments["controller"], stranger, "grpc")
    # Prometheus (another namespace) may scrape every metrics port.
    for name, dep in deployments.items():
        assert _scrapable(docs, dep, "http" if name == "tgi" else "metrics"), name
    if value_set == "tgi":
        policy_pod = deployments["policy"]["spec"]["template"]["metadata"]["labels"]
        assert _allowed(docs, deployments["tgi"], policy_pod, "http")
        assert not _allowed(docs, deployments["tgi"], controller, "http")
        # The experiment Job may generate games on env, and nothing else.
        job = of_kind(docs, "Job")[0]["spec"]["template"]["metadata"]["labels"]
        assert _allowed(docs, deployments["env"], job, "grpc")
        assert not _allowed(docs, deployments["policy"], job, "grpc")
        assert _allowed(docs, deployments["controller"], job, "grpc")


# --- monitoring


def test_servicemonitor_only_when_enabled_and_selects_every_metrics_port(
    renders: dict[str, list[dict]],
) -> None:
    assert of_kind(renders["default"], "ServiceMonitor") == []
    docs = renders["tgi"]
    (monitor,) = of_kind(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    endpoints = {e["port"]: e for e in spec["endpoints"]}
    assert set(endpoints) == {"metrics", "http"}
    for endpoint in endpoints.values():
        assert endpoint["path"] == "/metrics"
        assert re.fullmatch(r"\d+s", endpoint["interval"])
    for svc in of_kind(docs, "Service"):
        assert labels_match(spec["selector"], svc["metadata"]["labels"])
        names = {p["name"] for p in svc["spec"]["ports"]}
        expected = "http" if component(svc) == "tgi" else "metrics"
        assert expected in names, svc["metadata"]["name"]


def test_alert_rules_only_when_enabled_and_scoped_to_the_release(
    renders: dict[str, list[dict]],
) -> None:
    assert of_kind(renders["default"], "PrometheusRule") == []
    (rule,) = of_kind(renders["tgi"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "A3tExperimentFailed",
        "A3tWaitingForService",
        "A3tServiceDown",
        "A3tNoProgress",
    }
    known = _code_metric_names()
    for alert in alerts.values():
        assert f'namespace="{NAMESPACE}"' in alert["expr"]
        for name in re.findall(r"\b(a3t_[a-z0-9_]+)", alert["expr"]):
            assert name in known, f"{alert['alert']} queries {name}, which the code never exports"
    # The promtool checks (syntax, and each alert firing on data) are in tests/system/.


def _code_metric_names() -> set[str]:
    """Metric names the code registers, found by reading it: literal "a3t_..." names, plus the
    per-service templates (a3t.metrics' f"a3t_{service}_..." for every service that serve()s,
    a3t.inference.served's f"{p}_..." for every service holding a ServedModel; a model service's
    run_model_service() does both)."""
    sources = [
        p
        for root in (REPO_ROOT / "libs", REPO_ROOT / "services")
        for p in root.rglob("*.py")
        if "_pb2" not in p.name
    ]
    texts = {p: p.read_text() for p in sources}
    names = set()
    rpc_suffixes, model_suffixes, serving, modelled = set(), set(), set(), set()
    for path, text in texts.items():
        names.update(re.findall(r"""["'](a3t_[a-z0-9_]+)["']""", text))
        if path.name == "metrics.py":
            rpc_suffixes.update(re.findall(r"""f["']a3t_\{service\}_([a-z0-9_]+)["']""", text))
        if path.name == "served.py":
            model_suffixes.update(re.findall(r"""f["']\{p\}_([a-z0-9_]+)["']""", text))
        serving.update(re.findall(r"""\b(?:serve|run_model_service)\(\s*["']([a-z]+)["']""", text))
        modelled.update(
            re.findall(r"""\b(?:ServedModel|run_model_service)\(\s*["']([a-z]+)["']""", text)
        )
    assert rpc_suffixes >= {"rpc_requests_total", "rpc_duration_seconds", "build_info"}
    assert serving == set(SERVICES) and modelled == set(MODEL_SERVICES)
    names.update(f"a3t_{s}_{suffix}" for s in serving for suffix in rpc_suffixes)
    names.update(f"a3t_{s}_{suffix}" for s in modelled for suffix in model_suffixes)
    return names


def _dashboard_queries(dashboard: dict) -> list[str]:
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            queries.append(var["query"]["query"])
    return queries


def test_dashboard_parses_and_queries_metrics_that_exist_in_the_code() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panel_ids = [p["id"] for p in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    known = _code_metric_names()
    used = set()
    for query in _dashboard_queries(dashboard):
        for name in re.findall(r"\b(a3t_[a-z0-9_]+)", query):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in known or base in known, f"{name} (in {query!r}) is not in the code"
            used.add(base if base in known else name)
    # The panels the deployment promises: RPC rate/latency/errors, env steps, sessions,
    # episodes by outcome, controller round/phase/eval success, trainer tokens/s.
    required = {
        *(f"a3t_{s}_rpc_requests_total" for s in SERVICES),
        *(f"a3t_{s}_rpc_duration_seconds" for s in SERVICES),
        "a3t_env_steps_total",
        "a3t_env_sessions_open",
        "a3t_env_episodes_total",
        "a3t_controller_round",
        "a3t_controller_phase_info",
        "a3t_controller_eval_success_ratio",
        "a3t_trainer_tokens_per_second",
    }
    assert required <= used, required - used
    errors = [
        q for q in _dashboard_queries(dashboard) if "rpc_requests_total" in q and 'code!="OK"' in q
    ]
    assert len(errors) == len(SERVICES)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_dashboard_configmap_ships_the_one_dashboard_file(
    renders: dict[str, list[dict]], value_set: str
) -> None:
    (config_map,) = [
        d for d in of_kind(renders[value_set], "ConfigMap") if component(d) == "dashboard"
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["a3t.json"]) == json.loads(DASHBOARD.read_text())
    # One copy: deploy/grafana holds a pointer, not a second dashboard.
    grafana_dir = REPO_ROOT / "deploy" / "grafana"
    assert list(grafana_dir.glob("*.json")) == []
    assert "deploy/helm/a3t/dashboards/a3t.json" in (grafana_dir / "README.md").read_text()


# --- the experiment


def test_default_experiment_is_a_valid_controller_config(renders: dict[str, list[dict]]) -> None:
    from a3t_controller.config import ExperimentConfig

    (config_map,) = [
        d for d in of_kind(renders["default"], "ConfigMap") if component(d) == "experiment"
    ]
    config = ExperimentConfig.from_dict(yaml.safe_load(config_map["data"]["experiment.yaml"]))
    generate = yaml.safe_load(config_map["data"]["generate.yaml"])
    assert {g["split"] for g in generate} == {config.train_split, config.eval_split}
    script = config_map["data"]["create_experiment.py"]
    assert script == (CHART / "files" / "create_experiment.py").read_text()
    compile(script, "create_experiment.py", "exec")
    # Mounted in the controller; the Job only when asked for.
    controller = by_component(renders["default"], "Deployment")["controller"]
    volumes = {v["name"]: v for v in controller["spec"]["template"]["spec"]["volumes"]}
    assert volumes["experiment"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert of_kind(renders["default"], "Job") == []


def test_experiment_job_calls_the_rendered_controller_and_env(
    renders: dict[str, list[dict]],
) -> None:
    docs = renders["tgi"]
    (job,) = of_kind(docs, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    args = dict(zip(container["args"][::2], container["args"][1::2], strict=True))
    services = by_component(docs, "Service")
    assert args["--controller"] == f"{services['controller']['metadata']['name']}:50056"
    assert args["--env-target"] == f"{services['env']['metadata']['name']}:50051"
    assert (
        container["image"]
        == by_component(docs, "Deployment")["controller"]["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
    )
    # The name and request id follow the experiment: a changed config is a new Job.
    config = {**VALUE_SETS["tgi"]["experiment"]["config"], "name": "b"}
    changed = render({**VALUE_SETS["tgi"], "experiment": {"create": True, "config": config}})
    (changed_job,) = of_kind(changed, "Job")
    assert changed_job["metadata"]["name"] != job["metadata"]["name"]
    changed_args = changed_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert changed_args[changed_args.index("--request-id") + 1] != args["--request-id"]
    (same_job,) = of_kind(render(VALUE_SETS["tgi"]), "Job")
    assert same_job["metadata"]["name"] == job["metadata"]["name"]
    # A new image tag (a `helm upgrade`) changes the Job's template, which is immutable: a new
    # Job name, but the same request id, so the controller creates nothing new.
    bumped = render({**VALUE_SETS["tgi"], "image": {"tag": "9.9.9"}})
    (bumped_job,) = of_kind(bumped, "Job")
    assert bumped_job["metadata"]["name"] != job["metadata"]["name"]
    bumped_args = bumped_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert bumped_args[bumped_args.index("--request-id") + 1] == args["--request-id"]


def test_chart_paths_exist() -> None:
    for path in (
        CHART / "Chart.yaml",
        CHART / "values.yaml",
        CHART / "values.schema.json",
        DASHBOARD,
        CHART / "files" / "create_experiment.py",
    ):
        assert Path(path).is_file(), path


def test_an_openai_endpoint_is_the_server_root() -> None:
    policy = {"engine": "openai", "endpoint": "http://vllm:8000", "model": "m"}
    deployments = by_component(render({"services": {"policy": policy}}), "Deployment")
    assert container_env(deployments["policy"])["A3T_POLICY_ENDPOINT"] == "http://vllm:8000"
