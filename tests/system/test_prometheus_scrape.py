"""A real Prometheus (Debian's `prometheus`, on loopback) scrapes every service while an
experiment runs on real processes (tiny model, critic selection so the critic works too); then
every query of the Grafana dashboard, sent to Prometheus's HTTP API, returns data, and the
experiments-by-state metric says the experiment succeeded (system tier)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from a3t.controller.v1 import controller_pb2 as cpb
from a3t.procs import free_port
from tests.conftest import REPO_ROOT
from tests.e2e.test_rounds_process import Cluster, create, tiny_model, wait_state

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]
__all__ = ["tiny_model"]  # the module fixture, used below
DASHBOARD = REPO_ROOT / "deploy" / "helm" / "a3t" / "dashboards" / "a3t.json"


def query(url: str, expr: str) -> list:
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


async def one_bad_request_each(cluster: Cluster) -> None:
    """One refused request to every service: each answers an error code, counted per code."""
    from grpc import aio

    from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
    from a3t.controller.v1 import controller_pb2_grpc
    from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
    from a3t.env.v1 import env_pb2, env_pb2_grpc
    from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
    from a3t.rpc.client import channel
    from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc

    calls = {
        "env": lambda c: env_pb2_grpc.EnvServiceStub(c).Step(
            env_pb2.StepRequest(session_id="nope", action="look")
        ),
        "policy": lambda c: policy_pb2_grpc.PolicyServiceStub(c).Act(policy_pb2.ActRequest()),
        "actre": lambda c: actre_pb2_grpc.ActReServiceStub(c).Explain(actre_pb2.ExplainRequest()),
        "critic": lambda c: critic_pb2_grpc.CriticServiceStub(c).Score(critic_pb2.ScoreRequest()),
        "trainer": lambda c: trainer_pb2_grpc.TrainerServiceStub(c).GetTrainingRun(
            trainer_pb2.GetTrainingRunRequest(run_id="nope")
        ),
        "controller": lambda c: controller_pb2_grpc.ControllerServiceStub(c).GetExperiment(
            cpb.GetExperimentRequest(experiment_id="nope")
        ),
    }
    for name, call in calls.items():
        async with channel(cluster.procs[name].target) as chan:
            with pytest.raises(aio.AioRpcError):
                await call(chan)


@pytest.fixture
async def cluster(tmp_path, tiny_model):
    c = Cluster(tmp_path, tiny_model, with_critic=True)
    try:
        await c.start()
        yield c
    finally:
        c.stop()


async def test_every_dashboard_query_returns_data_from_a_real_prometheus(cluster, tmp_path):
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: `apt-get install prometheus` (NOTES.md)")
    targets = [f"127.0.0.1:{p.metrics_port}" for p in cluster.procs.values()]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "a3t", "static_configs": [{"targets": targets}]}],
            }
        )
    )
    port = free_port()
    prom = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        extra = "selector: critic\ncritic_threshold: 0\n"  # keeps the top half it ranks
        eid = await create(cluster, "scraped", rounds=1, extra_yaml=extra)
        exp = await wait_state(cluster, eid)
        assert exp.state == cpb.EXPERIMENT_STATE_SUCCEEDED, exp.error_message + cluster.logs()
        await one_bad_request_each(cluster)  # so the errors panel has something to show
        time.sleep(5)  # a few more scrapes after the end
        assert len(query(url, 'up{job="a3t"} == 1')) == len(targets)
        dashboard = json.loads(DASHBOARD.read_text())
        empty = []
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$namespace", ".*")
                expr = expr.replace("$__rate_interval", "5m")
                if not query(url, expr):
                    empty.append(f"{panel['title']}: {expr}")
        assert empty == [], "dashboard queries without data:\\n" + "\\n".join(empty)
        states = {
            r["metric"]["state"]: float(r["value"][1])
            for r in query(url, "a3t_controller_experiments")
        }
        assert states["succeeded"] == 1 and states["failed"] == 0
    finally:
        prom.terminate()
        prom.wait(timeout=30)
