"""The experiments-by-state metric, read from the store at scrape time."""

from a3t_controller.config import ExperimentConfig
from a3t_controller.metrics import ExperimentStates
from a3t_controller.store import Store


def counts(collector: ExperimentStates) -> dict[str, float]:
    (family,) = collector.collect()
    return {sample.labels["state"]: sample.value for sample in family.samples}


def test_experiments_are_counted_by_state_with_waiting_apart(tmp_path):
    path = tmp_path / "a3t.sqlite"
    collector = ExperimentStates(path)
    assert set(counts(collector).values()) == {0}  # no store yet: zeros, not an error
    store = Store(path)
    for name, state in [("a", "running"), ("b", "running"), ("c", "failed"), ("d", "succeeded")]:
        exp = store.create_experiment(name, f"r-{name}", ExperimentConfig(name=name).to_dict())
        store.set_experiment(exp.experiment_id, state=state)
    store.set_waiting("waiting for the policy service (UNAVAILABLE: ...)")  # both running ones
    assert counts(collector) == {
        "pending": 0,
        "running": 0,
        "waiting": 2,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
    }
    store.set_waiting("")
    assert counts(collector)["running"] == 2 and counts(collector)["waiting"] == 0
