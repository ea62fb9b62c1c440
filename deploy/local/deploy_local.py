"""`make deploy-local`: the Helm chart run as pods on this machine, one experiment through them.

    .venv/bin/python deploy/local/deploy_local.py [--keep] [--timeout-minutes 60]

1. Renders deploy/helm/a3t with deploy/local/values.yaml (helm-python-sdk, a real `helm
   template`) and keeps what `podman kube play` runs: Deployments, PersistentVolumeClaims and
   ConfigMaps. Services, NetworkPolicies, the ServiceAccount and the experiment Job are left out
   (podman does not implement them; each left-out kind is printed). The pods share the host's
   network, so the values point the controller at 127.0.0.1 ports instead of Service names.
2. `podman kube play --network host` runs them; waits for every service's gRPC health.
3. Runs the chart's own experiment script (deploy/helm/a3t/files/create_experiment.py, what the
   chart's Job runs) against the pods with deploy/local/experiment.yaml and generate.yaml, then
   follows the experiment (WatchExperiment) to its end and prints its rounds (ListRounds).
4. Tears the pods and their volumes down (`podman kube down`), unless --keep.

With `--kill SERVICE` the service's container is killed (SIGKILL) once the round is exploring
and started again 5 s later, as kubelet would (podman counts a `podman kill` as stopped by the
user and does not apply the restart policy: measured, the controller then waited out its whole
budget and failed the experiment, as it should); the controller waits for it, and the experiment
must still succeed.

Images come from `make images` (localhost/a3t-<service>:<version>). Exits 0 when the experiment
succeeded. Manifests and pod logs are written under var/deploy-local/.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "local"
WORK = ROOT / "var" / "deploy-local"
RELEASE, NAMESPACE = "local", "a3t"
KEPT = {"Deployment", "PersistentVolumeClaim", "ConfigMap"}
WHY_LEFT_OUT = {
    "Service": "podman has no Services: pods share the host network, the controller is "
    "pointed at 127.0.0.1 ports",
    "NetworkPolicy": "podman does not implement NetworkPolicy",
    "ServiceAccount": "podman has no API server to give tokens for",
    "Job": "podman kube play runs no Jobs: this script runs the Job's script from the host",
}


def render() -> list[dict]:
    import helm_python as helm

    values = yaml.safe_load((HERE / "values.yaml").read_text())
    with helm.Chart.load(ROOT / "deploy" / "helm" / "a3t") as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    docs = [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    left_out: dict[str, list[str]] = {}
    for doc in docs:
        if doc["kind"] not in KEPT:
            left_out.setdefault(doc["kind"], []).append(doc["metadata"]["name"])
    for kind, names in sorted(left_out.items()):
        why = WHY_LEFT_OUT.get(kind, "not run by podman kube play")
        print(f"left out {len(names)} {kind}: {why}")
    return [doc for doc in docs if doc["kind"] in KEPT]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"podman {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def ports(docs: list[dict]) -> dict[str, int]:
    """Service name -> gRPC port, from the rendered Deployments' container ports."""
    found = {}
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        found[container["name"]] = grpc_port
    return found


async def wait_healthy(services: dict[str, int], timeout: float) -> None:
    from a3t.rpc.client import wait_for_serving

    start = time.monotonic()
    for name, port in services.items():
        left = max(1.0, timeout - (time.monotonic() - start))
        print(f"waiting for {name} on 127.0.0.1:{port} ...", flush=True)
        await wait_for_serving(f"127.0.0.1:{port}", timeout=left)
        print(f"  {name} SERVING after {time.monotonic() - start:.0f} s", flush=True)


async def follow(controller: str, name: str, timeout: float, kill: str = "") -> int:
    """Streams the experiment's progress to its end; prints its rounds; 0 if it succeeded.
    `kill`: the service whose container is killed when the round starts exploring."""
    from a3t.controller.v1 import controller_pb2 as pb
    from a3t.controller.v1 import controller_pb2_grpc
    from a3t.rpc.client import channel

    async with channel(controller) as chan:
        stub = controller_pb2_grpc.ControllerServiceStub(chan)
        exp = await stub.GetExperiment(pb.GetExperimentRequest(experiment_id=name), timeout=30)
        last = ""
        async for event in stub.WatchExperiment(
            pb.WatchExperimentRequest(experiment_id=exp.experiment_id), timeout=timeout
        ):
            line = f"round {event.round} {pb.RoundPhase.Name(event.phase)}: {event.message}"
            if line != last:
                print(line, flush=True)
                last = line
            if kill and event.phase == pb.ROUND_PHASE_EXPLORE and event.done >= 4:
                container = f"{RELEASE}-a3t-{kill}-pod-0-{kill}"
                podman("kill", "--signal", "KILL", container)
                print(f"killed {container} (SIGKILL) mid-exploration", flush=True)
                await asyncio.sleep(5)
                podman("start", container)
                print(f"started {container} again", flush=True)
                kill = ""
        exp = await stub.GetExperiment(
            pb.GetExperimentRequest(experiment_id=exp.experiment_id), timeout=30
        )
        rounds = await stub.ListRounds(
            pb.ListRoundsRequest(experiment_id=exp.experiment_id), timeout=30
        )
    state = pb.ExperimentState.Name(exp.state)
    print(f"\nexperiment {name}: {state} {exp.error_message}")
    print("| round | attempt solved | explore solved | pool | adapter | held-out success |")
    print("|---|---|---|---|---|---|")
    for r in rounds.rounds:
        print(
            f"| {r.round} | {r.attempt_solved}/{r.attempt_total} | {r.explore_solved} | "
            f"{r.pool_size} | {r.adapter} | {100 * r.eval_success_rate:.0f}% |"
        )
    return 0 if exp.state == pb.EXPERIMENT_STATE_SUCCEEDED else 1


def save_logs(docs: list[dict]) -> None:
    """Each service container's log, to var/deploy-local/<deployment>.log."""
    for doc in docs:
        if doc["kind"] == "Deployment":
            name = doc["metadata"]["name"]
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            # podman 4.3 names a Deployment's pod <name>-pod-0, its containers <pod>-<container>.
            done = podman("logs", f"{name}-pod-0-{container['name']}", check=False)
            (WORK / f"{name}.log").write_text(done.stdout + done.stderr)


def teardown(docs: list[dict], manifests: Path) -> None:
    """The pods down and their volumes (PVCs) removed: every run starts from nothing."""
    if manifests.exists():
        podman("kube", "down", str(manifests), check=False)
    for doc in docs:
        # podman makes a named volume for each claim, and one for each ConfigMap it mounts.
        if doc["kind"] in ("PersistentVolumeClaim", "ConfigMap"):
            podman("volume", "rm", "-f", doc["metadata"]["name"], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the pods running")
    parser.add_argument("--timeout-minutes", type=float, default=60)
    parser.add_argument(
        "--kill",
        choices=["env", "policy", "actre", "trainer"],
        default="",
        help="kill this service's container mid-exploration; the experiment must survive it",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    docs = render()
    services = ports(docs)
    for doc in docs:
        if doc["kind"] == "Deployment":
            # On the host network podman refuses port mappings; the ports are the services'
            # own (each listens on its port on this machine).
            for container in doc["spec"]["template"]["spec"]["containers"]:
                container.pop("ports", None)
    manifests = WORK / "manifests.yaml"
    manifests.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    print(f"{len(docs)} manifests -> {manifests}; pods: {', '.join(services)}")
    started = time.monotonic()
    teardown(docs, manifests)  # what a previous run left
    podman("kube", "play", "--network", "host", str(manifests))
    code = 1
    try:
        asyncio.run(wait_healthy(services, timeout=900))
        print(f"all pods SERVING after {time.monotonic() - started:.0f} s")
        config = WORK / "experiment.yaml"
        config.write_text((HERE / "experiment.yaml").read_text())
        create = [
            sys.executable,
            str(ROOT / "deploy" / "helm" / "a3t" / "files" / "create_experiment.py"),
            *("--config", str(config), "--controller", f"127.0.0.1:{services['controller']}"),
            *("--generate", str(HERE / "generate.yaml")),
            *("--env-target", f"127.0.0.1:{services['env']}"),
        ]
        subprocess.run(create, check=True)
        name = yaml.safe_load(config.read_text())["name"]
        code = asyncio.run(
            follow(
                f"127.0.0.1:{services['controller']}", name, 60 * args.timeout_minutes, args.kill
            )
        )
        print(f"deploy-local: {time.monotonic() - started:.0f} s from kube play to the report")
    finally:
        save_logs(docs)
        if not args.keep:
            teardown(docs, manifests)
            print("pods and volumes removed")
    return code


if __name__ == "__main__":
    sys.exit(main())
