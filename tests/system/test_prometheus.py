"""The chart's alert rules through a real promtool (Debian's `prometheus` package): they parse,
and each alert fires on the data it is about and stays quiet otherwise (promtool test rules).

System tier (`make test-system`): needs `promtool` on the PATH (`apt-get install prometheus`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.contract.deploy.test_helm_chart import NAMESPACE, of_kind, render

pytestmark = pytest.mark.system
NS = NAMESPACE


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: `apt-get install prometheus` (NOTES.md)")
    (rule,) = of_kind(render({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


def annotations(rules: Path, alert: str, value: str, labels: dict[str, str]) -> dict:
    """The alert's annotations as Prometheus expands them for `value` and `labels`."""
    (rule,) = [
        r
        for g in yaml.safe_load(rules.read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == alert
    ]
    out = {}
    for key, text in rule["annotations"].items():
        text = text.replace("{{ $value }}", value)
        for name, label in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", label)
        out[key] = text
    return out


def test_the_rules_parse(rules_file: Path) -> None:
    done = promtool("check", "rules", str(rules_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout


def test_each_alert_fires_on_its_data_and_only_then(rules_file: Path, tmp_path: Path) -> None:
    waiting = {"service": "policy"}
    down = {"service": "demo-a3t-env", "namespace": NS}  # no aggregation: labels stay
    cases = [
        # (alert, input series, eval minute, fires?, labels, value)
        (
            "A3tExperimentFailed",
            [(f'a3t_controller_experiments{{namespace="{NS}",state="failed"}}', "0 0 1 1 1 1")],
            5,
            True,
            {},
            "1",
        ),
        (
            "A3tExperimentFailed",
            [(f'a3t_controller_experiments{{namespace="{NS}",state="failed"}}', "0 0 0 0 0 0")],
            5,
            False,
            {},
            "",
        ),
        (
            "A3tWaitingForService",
            [(f'a3t_controller_waiting_for_service{{namespace="{NS}",service="policy"}}', "1x10")],
            8,
            True,
            waiting,
            "1",
        ),
        (
            "A3tWaitingForService",  # a wait shorter than waitingFor (5m) is normal
            [
                (
                    f'a3t_controller_waiting_for_service{{namespace="{NS}",service="policy"}}',
                    "1 1 1 0 0 0 0 0 0 0",
                )
            ],
            8,
            False,
            waiting,
            "",
        ),
        (
            "A3tServiceDown",
            [(f'up{{namespace="{NS}",service="demo-a3t-env",job="demo-a3t-env"}}', "0x10")],
            8,
            True,
            {**down, "job": "demo-a3t-env"},
            "0",
        ),
        (
            "A3tNoProgress",  # running, no episode and no training step for 30 minutes
            [
                (f'a3t_controller_experiments{{namespace="{NS}",state="running"}}', "1x45"),
                (
                    f'a3t_controller_episodes_total{{namespace="{NS}",phase="explore",outcome="won"}}',
                    "0+1x5 5x40",
                ),
            ],
            44,
            True,
            {},
            "0",
        ),
        (
            "A3tNoProgress",  # episodes keep coming
            [
                (f'a3t_controller_experiments{{namespace="{NS}",state="running"}}', "1x45"),
                (
                    f'a3t_controller_episodes_total{{namespace="{NS}",phase="explore",outcome="won"}}',
                    "0+1x45",
                ),
            ],
            44,
            False,
            {},
            "",
        ),
    ]
    tests = []
    for alert, series, minute, fires, labels, value in cases:
        expected = []
        if fires:
            series_labels = {"severity": "warning", **labels}
            expected = [
                {
                    "exp_labels": series_labels,
                    "exp_annotations": annotations(rules_file, alert, value, labels),
                }
            ]
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": expected}
                ],
            }
        )
    spec = tmp_path / "tests.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules_file)], "tests": tests}))
    done = promtool("test", "rules", str(spec))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
