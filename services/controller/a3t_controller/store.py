"""The trajectory store: every experiment, round, trajectory, step, selection, training run, adapter
and evaluation, in one SQLite file.

Durability is what makes rounds resumable: a phase's results are written before the round moves to
the next phase, each trajectory is written the moment its episode ends, and a trajectory's natural
key (experiment, round, phase, task, attempt) is UNIQUE, so a phase re-run after a crash skips what
it already has and can never store a duplicate. WAL mode keeps readers (`a3t status`) from blocking
the writer.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from a3t.compose import WeightedTrajectory
from a3t.errors import AlreadyExists, FailedPrecondition, NotFound, quote
from a3t.trajectory import Trajectory
from a3t_controller.episode import as_explored

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    request_id TEXT NOT NULL UNIQUE,
    config_json TEXT NOT NULL,
    state TEXT NOT NULL,
    current_round INTEGER NOT NULL DEFAULT 0,
    current_phase TEXT NOT NULL DEFAULT 'attempt',
    error_message TEXT NOT NULL DEFAULT '',
    create_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    experiment_id TEXT NOT NULL REFERENCES experiments,
    round INTEGER NOT NULL,
    phase TEXT NOT NULL,
    policy_adapter TEXT NOT NULL DEFAULT '',
    explore_probability REAL NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    stats_json TEXT NOT NULL DEFAULT '{}',
    start_time REAL NOT NULL,
    end_time REAL,
    PRIMARY KEY (experiment_id, round)
);
CREATE TABLE IF NOT EXISTS trajectories (
    trajectory_id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments,
    round INTEGER NOT NULL,
    phase TEXT NOT NULL,
    split TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    won INTEGER NOT NULL,
    reward REAL NOT NULL,
    n_steps INTEGER NOT NULL,
    synthesised_steps INTEGER NOT NULL,
    policy_adapter TEXT NOT NULL,
    json TEXT NOT NULL,
    create_time REAL NOT NULL,
    UNIQUE (experiment_id, round, phase, task_id, attempt)
);
CREATE TABLE IF NOT EXISTS steps (
    trajectory_id TEXT NOT NULL REFERENCES trajectories,
    step_index INTEGER NOT NULL,
    thought TEXT NOT NULL,
    action TEXT NOT NULL,
    observation TEXT NOT NULL,
    source TEXT NOT NULL,
    synthesised INTEGER NOT NULL,
    admissible INTEGER NOT NULL,
    PRIMARY KEY (trajectory_id, step_index)
);
CREATE TABLE IF NOT EXISTS selections (
    experiment_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    trajectory_id TEXT NOT NULL REFERENCES trajectories,
    selector TEXT NOT NULL,
    kept INTEGER NOT NULL,
    score REAL,
    reason TEXT NOT NULL,
    PRIMARY KEY (experiment_id, round, trajectory_id, selector)
);
CREATE TABLE IF NOT EXISTS pool (
    experiment_id TEXT NOT NULL,
    trajectory_id TEXT NOT NULL REFERENCES trajectories,
    weight REAL NOT NULL,
    round_added INTEGER NOT NULL,
    train_steps INTEGER NOT NULL DEFAULT 0,  -- train on the first N steps only; 0 = all
    PRIMARY KEY (experiment_id, trajectory_id)
);
CREATE TABLE IF NOT EXISTS training_runs (
    experiment_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    run_id TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    dataset_uri TEXT NOT NULL,
    output_uri TEXT NOT NULL,
    n_examples INTEGER NOT NULL,
    metrics_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (experiment_id, round)
);
CREATE TABLE IF NOT EXISTS adapters (
    experiment_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    uri TEXT NOT NULL,
    round INTEGER NOT NULL,
    promoted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment_id, version)
);
-- A task's group of rollouts for one phase that was dropped: one of them failed after its
-- retries (a3t_controller.rounds). Its stored rollouts stay for inspection; none is trained on.
CREATE TABLE IF NOT EXISTS dropped_groups (
    experiment_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    phase TEXT NOT NULL,
    task_id TEXT NOT NULL,
    tries INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (experiment_id, round, phase, task_id)
);
CREATE TABLE IF NOT EXISTS evaluations (
    experiment_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    adapter TEXT NOT NULL,
    n_tasks INTEGER NOT NULL,
    success_rate REAL NOT NULL,
    by_type_json TEXT NOT NULL,
    cumulative_success_rate REAL NOT NULL,
    -- share of the policy's steps whose generated action was admissible before any grounding
    admissible_share REAL,
    -- with evaluate_ungrounded: the same tasks played again with grounding off (NULL: not played)
    ungrounded_success_rate REAL,
    ungrounded_admissible_share REAL,
    PRIMARY KEY (experiment_id, round)
);
-- `a3t evaluate`: a stored adapter (or the base model) evaluated on any split, outside the
-- experiment's rounds. Its episodes are the trajectories of (experiment_id, round, phase).
CREATE TABLE IF NOT EXISTS extra_evaluations (
    experiment_id TEXT NOT NULL REFERENCES experiments,
    round INTEGER NOT NULL,  -- the round that trained the adapter; -1 the base model
    adapter TEXT NOT NULL,
    split TEXT NOT NULL,
    grounded INTEGER NOT NULL,
    sample INTEGER NOT NULL,  -- the tasks asked for (a3t evaluate --count); 0 = the whole split
    phase TEXT NOT NULL,
    n_tasks INTEGER NOT NULL,
    success_rate REAL NOT NULL,
    by_type_json TEXT NOT NULL,
    admissible_share REAL,
    wall_s REAL NOT NULL,
    cpu_s REAL,
    create_time REAL NOT NULL,
    PRIMARY KEY (experiment_id, round, phase)
);
"""


@dataclass(frozen=True)
class ExperimentRow:
    experiment_id: str
    name: str
    request_id: str
    config: dict[str, Any]
    state: str
    current_round: int
    current_phase: str
    error_message: str
    create_time: float
    # While it runs: the service it is waiting for and why ("" when none); a3t_controller.patience.
    waiting_for: str = ""


@dataclass(frozen=True)
class StoredTrajectory:
    trajectory_id: str
    round: int
    phase: str
    task_id: str
    task_type: str
    attempt: int
    won: bool
    reward: float
    trajectory: Trajectory


@dataclass(frozen=True)
class Decision:
    """One selector's verdict on one explored trajectory, with the reason recorded for it
    (a3t_controller.select); `score` is the critic's, None for the other selectors."""

    trajectory_id: str
    selector: str
    kept: bool
    score: float | None
    reason: str


@dataclass(frozen=True)
class CriticAgreement:
    """The critic against the env check, where the critic scored (a3t_controller.select): the
    precision and recall of its kept set against the won trajectories, and the AUC of its scores;
    each None where it is undefined (nothing kept, nothing won, one class only)."""

    precision: float | None
    recall: float | None
    auc: float | None


# RoundStats' dict fields and how each entry is named in the stored JSON: (prefix, suffix)
# around the phase, selector or metric name.
_KEYED = {
    "kept": ("kept_", ""),
    "train_metrics": ("train_", ""),
    "wall_s": ("wall_s_", ""),
    "cpu_s": ("cpu_s_", ""),
    "rollouts_retried": ("", "_rollouts_retried"),
    "groups_dropped": ("", "_groups_dropped"),
}
_CRITIC_KEYS = {"precision": "critic_precision", "recall": "critic_recall", "auc": "critic_auc"}


@dataclass(frozen=True)
class RoundStats:
    """What a round's phases recorded; a field stays None (a dict empty) until its phase has
    recorded it. Each phase's stats are merged into the earlier phases' (Store.set_round_phase).

    Stored as one flat JSON object, the rounds table's stats_json, which the benchmarks read
    with SQL: a field is the key of its name, a dict field one key per entry (`_KEYED`: wall_s
    {"train": 3.2} is "wall_s_train", groups_dropped {"explore": 1} "explore_groups_dropped"),
    `critic` the three keys "critic_precision", "critic_recall", "critic_auc".
    """

    # attempt: the round's policy, greedy, once on every training task
    attempt_total: int | None = None
    attempt_solved: int | None = None
    train_level: int | None = None  # with a curriculum: the generated level trained on
    train_split: str | None = None  # with a curriculum: that level's split
    # explore: the failed tasks, with sampled actions
    explore_failed_tasks: int | None = None
    explore_episodes: int | None = None  # stored, less the dropped groups'
    explore_won: int | None = None
    explore_solved: int | None = None  # failed tasks that some exploration won
    explore_probability: float | None = None
    explore_env_steps: int | None = None  # env steps the stored explorations took
    # select
    selector: str | None = None
    candidates: int | None = None
    kept: dict[str, int] = field(default_factory=dict)  # selector -> trajectories it kept
    critic_env_agreement: float | None = None  # hybrid: share of candidates judged alike
    critic: CriticAgreement | None = None  # where the critic scored
    explained: int | None = None  # kept trajectories ActRe explained at selection
    # The kept trajectories' rationales (thoughts of synthesised steps) the env's rationale
    # check judged, and those it found grounded; None where the env has no check.
    rationales_checked: int | None = None
    rationales_grounded: int | None = None
    # compose
    selected: int | None = None  # kept by every selector
    pool_added: int | None = None
    pool_size: int | None = None  # the accumulated pool after this round
    pool_positive: int | None = None
    pool_negative: int | None = None
    negatives_truncated: int | None = None
    base_negatives_dropped: int | None = None
    # train
    adapter: str | None = None  # the adapter this round trained
    train_examples: int | None = None
    train_chat_examples: int | None = None
    train_metrics: dict[str, float] = field(default_factory=dict)  # the trainer's, by name
    # evaluate, promote
    eval_success_rate: float | None = None
    cumulative_success_rate: float | None = None  # tasks solved by any round so far
    # share of the evaluation's policy steps whose generated action was admissible (before
    # grounding replaced it); with evaluate_ungrounded, the same tasks played ungrounded
    eval_admissible_share: float | None = None
    eval_ungrounded_success_rate: float | None = None
    eval_ungrounded_admissible_share: float | None = None
    promoted: str | None = None
    # per phase: seconds (CPU where measured), rollouts played again, task groups dropped
    wall_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    rollouts_retried: dict[str, int] = field(default_factory=dict)
    groups_dropped: dict[str, int] = field(default_factory=dict)
    forked_from: str | None = None  # the experiment whose explored data this round selects

    def to_json_dict(self) -> dict[str, Any]:
        """The stored flat JSON object (the fields that are set)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _KEYED:
                prefix, suffix = _KEYED[f.name]
                out |= {f"{prefix}{k}{suffix}": v for k, v in value.items()}
            elif f.name == "critic":
                if value is not None:
                    out |= {key: getattr(value, name) for name, key in _CRITIC_KEYS.items()}
            elif value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> RoundStats:
        """Reads the stored JSON object; a key no field knows (a store written by another
        version) is left out."""
        plain = {f.name for f in fields(cls)} - set(_KEYED) - {"critic"}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in plain}
        keyed: dict[str, dict[str, Any]] = {name: {} for name in _KEYED}
        for key, value in data.items():
            if key in plain or key in _CRITIC_KEYS.values():
                continue
            for name, (prefix, suffix) in _KEYED.items():
                if key.startswith(prefix) and key.endswith(suffix):
                    keyed[name][key[len(prefix) : len(key) - len(suffix)]] = value
                    break
        if _CRITIC_KEYS["auc"] in data:  # the three are recorded together
            values["critic"] = CriticAgreement(
                **{name: data.get(key) for name, key in _CRITIC_KEYS.items()}
            )
        values.update(keyed)  # disjoint: `plain` leaves the keyed fields out
        return cls(**values)


@dataclass(frozen=True)
class RoundRow:
    experiment_id: str
    round: int
    phase: str  # the phase it is in (a3t_controller.rounds.PHASES); "done" when finished
    policy_adapter: str  # the adapter it explores with ("" = the base model)
    explore_probability: float
    level: int  # the curriculum's generated level; 0 without a curriculum
    stats: RoundStats
    start_time: float
    end_time: float | None  # None until done


@dataclass(frozen=True)
class TrainingRow:
    experiment_id: str
    round: int
    request_id: str
    run_id: str
    state: str  # running, succeeded or failed
    dataset_uri: str
    output_uri: str
    n_examples: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class AdapterRow:
    experiment_id: str
    version: int  # round + 1: version 0 is the base model
    name: str
    uri: str
    round: int  # the round that trained it
    promoted: bool


@dataclass(frozen=True)
class EvaluationRow:
    experiment_id: str
    round: int  # -1: the base model
    adapter: str
    n_tasks: int
    success_rate: float
    by_type: dict[str, float]  # task type -> success rate
    cumulative_success_rate: float
    # The share of policy steps whose generated action was admissible before grounding, and
    # the ungrounded evaluation's success and share; None where not measured (an older store,
    # evaluate_ungrounded off).
    admissible_share: float | None = None
    ungrounded_success_rate: float | None = None
    ungrounded_admissible_share: float | None = None


@dataclass(frozen=True)
class ExtraEvaluationRow:
    """An `a3t evaluate` of a stored adapter, outside the experiment's rounds."""

    experiment_id: str
    round: int  # the round that trained the adapter; -1 the base model
    adapter: str  # its name; "base" for the base model
    split: str
    grounded: bool
    sample: int  # the tasks asked for; 0 = the whole split
    phase: str  # its episodes are the trajectories of (experiment_id, round, phase)
    n_tasks: int
    success_rate: float
    by_type: dict[str, float]  # task type -> success rate
    admissible_share: float | None  # None: no policy step was played
    wall_s: float
    cpu_s: float | None
    create_time: float


# (table, column, declaration) added after the first schema; ALTER TABLE adds them to old stores.
ADDED_COLUMNS = (
    ("pool", "train_steps", "INTEGER NOT NULL DEFAULT 0"),
    ("experiments", "waiting_for", "TEXT NOT NULL DEFAULT ''"),
    ("evaluations", "admissible_share", "REAL"),
    ("evaluations", "ungrounded_success_rate", "REAL"),
    ("evaluations", "ungrounded_admissible_share", "REAL"),
)


class Store:
    """A connection to the store. One writer (the controller); `a3t status` may read alongside."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        try:
            self._check_integrity()
        except BaseException:
            self._db.close()
            raise
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed trajectory survives a power cut, not only a process kill.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        # Stores made before a column existed get it (with its default) on open.
        for table, column, decl in ADDED_COLUMNS:
            have = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _check_integrity(self) -> None:
        """Refuses a file that is not an SQLite database or whose pages are damaged (a truncated
        copy, a disk error), before anything is written to it: resuming from a damaged store
        could lose or duplicate episodes. quick_check reads every page once (a second or so per
        GB), without the slower index cross-checks of integrity_check."""
        try:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            raise FailedPrecondition(
                f"trajectory store {self.path} is damaged or not an SQLite database "
                f"({'; '.join(problems[:3])}); it was not opened. Restore it from a backup, or "
                "move it aside to start a new store (the experiments in it are then lost)"
            )

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- experiments

    def create_experiment(
        self, name: str, request_id: str, config: dict[str, Any]
    ) -> ExperimentRow:
        """Idempotent per request_id; a name reused with another config is ALREADY_EXISTS."""
        config_json = json.dumps(config, sort_keys=True)
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM experiments WHERE request_id = ? OR name = ?", (request_id, name)
            ).fetchone()
            if row is not None:
                if row["request_id"] == request_id or row["config_json"] == config_json:
                    return _experiment(row)
                raise AlreadyExists(
                    f"experiment name {name!r} is taken by a different config; pick another name "
                    "or resume it with its own config"
                )
            experiment_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO experiments (experiment_id, name, request_id, config_json, state, "
                "create_time) VALUES (?, ?, ?, ?, 'pending', ?)",
                (experiment_id, name, request_id, config_json, time.time()),
            )
        return self.experiment(experiment_id)

    def experiment(self, experiment_id: str) -> ExperimentRow:
        row = self._db.execute(
            "SELECT * FROM experiments WHERE experiment_id = ? OR name = ?",
            (experiment_id, experiment_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"experiment {quote(experiment_id)} not found; `a3t status` lists them")
        return _experiment(row)

    def experiments(self) -> list[ExperimentRow]:
        rows = self._db.execute("SELECT * FROM experiments ORDER BY create_time DESC").fetchall()
        return [_experiment(r) for r in rows]

    def set_experiment(self, experiment_id: str, **fields: Any) -> None:
        allowed = {"state", "current_round", "current_phase", "error_message", "waiting_for"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"set_experiment takes {sorted(allowed)}, got {sorted(fields)}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self._db.execute(
            f"UPDATE experiments SET {assignments} WHERE experiment_id = ?",
            (*fields.values(), experiment_id),
        )

    def set_waiting(self, message: str) -> None:
        """Shows on every running experiment which service the controller waits for ("" when
        it waits for none): one controller's services are shared by its experiments."""
        self._db.execute(
            "UPDATE experiments SET waiting_for = ? WHERE state = 'running'", (message,)
        )

    # --- rounds

    def start_round(
        self, experiment_id: str, round_: int, policy_adapter: str, p: float, level: int = 0
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO rounds (experiment_id, round, phase, policy_adapter, "
            "explore_probability, level, start_time) VALUES (?, ?, 'attempt', ?, ?, ?, ?)",
            (experiment_id, round_, policy_adapter, p, level, time.time()),
        )

    def round(self, experiment_id: str, round_: int) -> RoundRow | None:
        row = self._db.execute(
            "SELECT * FROM rounds WHERE experiment_id = ? AND round = ?", (experiment_id, round_)
        ).fetchone()
        return None if row is None else _round(row)

    def rounds(self, experiment_id: str) -> list[RoundRow]:
        rows = self._db.execute(
            "SELECT * FROM rounds WHERE experiment_id = ? ORDER BY round", (experiment_id,)
        )
        return [_round(r) for r in rows]

    def set_round_phase(
        self, experiment_id: str, round_: int, phase: str, stats: RoundStats | None = None
    ) -> None:
        """Moves a round to `phase`, merging `stats` into its stats; both in one transaction.
        The merge is over the stored JSON, so keys this version does not know are kept."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT stats_json FROM rounds WHERE experiment_id = ? AND round = ?",
                (experiment_id, round_),
            ).fetchone()
            merged = {**json.loads(row["stats_json"]), **(stats or RoundStats()).to_json_dict()}
            db.execute(
                "UPDATE rounds SET phase = ?, stats_json = ?, end_time = ? "
                "WHERE experiment_id = ? AND round = ?",
                (
                    phase,
                    json.dumps(merged, sort_keys=True),
                    time.time() if phase == "done" else None,
                    experiment_id,
                    round_,
                ),
            )
            db.execute(
                "UPDATE experiments SET current_round = ?, current_phase = ? "
                "WHERE experiment_id = ?",
                (round_, phase, experiment_id),
            )

    # --- trajectories

    def update_steps(self, trajectory_id: str, traj: Trajectory) -> None:
        """Stores thoughts filled in after the episode (ActRe rationales of a kept trajectory);
        nothing else of a stored trajectory ever changes."""
        row = self._db.execute(
            "SELECT json FROM trajectories WHERE trajectory_id = ?", (trajectory_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"trajectory {quote(trajectory_id)} not found")
        stored = Trajectory.from_json(row["json"])
        if [s.action for s in stored.steps] != [s.action for s in traj.steps]:
            raise FailedPrecondition(
                f"trajectory {trajectory_id!r}: only thoughts may change after it is stored"
            )
        traj = replace(traj, trajectory_id=trajectory_id, round=stored.round)
        with self.transaction() as db:
            db.execute(
                "UPDATE trajectories SET json = ? WHERE trajectory_id = ?",
                (traj.to_json(), trajectory_id),
            )
            db.executemany(
                "UPDATE steps SET thought = ? WHERE trajectory_id = ? AND step_index = ?",
                [(s.thought, trajectory_id, i) for i, s in enumerate(traj.steps)],
            )

    def add_trajectory(
        self, experiment_id: str, round_: int, phase: str, attempt: int, traj: Trajectory
    ) -> str:
        """Stores a finished episode with its steps; returns its id. Storing the same (round,
        phase, task, attempt) twice keeps the first and returns its id (safe on resume)."""
        existing = self._db.execute(
            "SELECT trajectory_id FROM trajectories WHERE experiment_id = ? AND round = ? AND "
            "phase = ? AND task_id = ? AND attempt = ?",
            (experiment_id, round_, phase, traj.task.task_id, attempt),
        ).fetchone()
        if existing is not None:
            return existing["trajectory_id"]
        trajectory_id = traj.trajectory_id or str(uuid.uuid4())
        traj = replace(traj, trajectory_id=trajectory_id, round=round_)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO trajectories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trajectory_id,
                    experiment_id,
                    round_,
                    phase,
                    traj.task.split,
                    traj.task.task_id,
                    traj.task.task_type,
                    attempt,
                    int(traj.won),
                    traj.reward,
                    len(traj.steps),
                    traj.synthesised_steps,
                    traj.policy_adapter,
                    traj.to_json(),
                    time.time(),
                ),
            )
            db.executemany(
                "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        trajectory_id,
                        i,
                        s.thought,
                        s.action,
                        s.observation,
                        s.source.value,
                        int(s.source.synthesised),
                        int(s.admissible),
                    )
                    for i, s in enumerate(traj.steps)
                ],
            )
        return trajectory_id

    def trajectories(
        self,
        experiment_id: str,
        round_: int | None = None,
        phase: str | None = None,
        task_id: str | None = None,
    ) -> list[StoredTrajectory]:
        query = "SELECT * FROM trajectories WHERE experiment_id = ?"
        args: list[Any] = [experiment_id]
        for column, value in (("round", round_), ("phase", phase), ("task_id", task_id)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        rows = self._db.execute(query + " ORDER BY round, phase, task_id, attempt", args)
        return [
            StoredTrajectory(
                r["trajectory_id"],
                r["round"],
                r["phase"],
                r["task_id"],
                r["task_type"],
                r["attempt"],
                bool(r["won"]),
                r["reward"],
                Trajectory.from_json(r["json"]),
            )
            for r in rows
        ]

    def count(self, table: str, experiment_id: str) -> int:
        if table not in ("trajectories", "selections", "pool", "adapters", "evaluations"):
            raise ValueError(f"no countable table {table!r}")
        return self._db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE experiment_id = ?", (experiment_id,)
        ).fetchone()[0]

    # --- selection, pool

    def record_selection(
        self, experiment_id: str, round_: int, decisions: Sequence[Decision]
    ) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO selections VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        experiment_id,
                        round_,
                        d.trajectory_id,
                        d.selector,
                        int(d.kept),
                        d.score,
                        d.reason,
                    )
                    for d in decisions
                ],
            )

    def selections(self, experiment_id: str, round_: int) -> list[Decision]:
        rows = self._db.execute(
            "SELECT trajectory_id, selector, kept, score, reason FROM selections "
            "WHERE experiment_id = ? AND round = ? ORDER BY trajectory_id, selector",
            (experiment_id, round_),
        )
        return [Decision(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def add_to_pool(
        self, experiment_id: str, round_: int, items: Sequence[WeightedTrajectory]
    ) -> int:
        """Adds each item's stored trajectory (by its id) with its weight, trained on as many
        steps as the item has (a3t.compose may cut a failure); a trajectory already pooled keeps
        its first entry. Returns the pool size after."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO pool (experiment_id, trajectory_id, weight, round_added, "
                "train_steps) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        experiment_id,
                        i.trajectory.trajectory_id,
                        i.weight,
                        round_,
                        len(i.trajectory.steps),
                    )
                    for i in items
                ],
            )
        return self.count("pool", experiment_id)

    def pool(self, experiment_id: str) -> list[WeightedTrajectory]:
        """Every pool entry, its trajectory as trained on: cut to its pooled train_steps (0, in
        a store from before that column, is every step)."""
        rows = self._db.execute(
            "SELECT p.weight, p.train_steps, t.json, t.split FROM pool p JOIN trajectories t "
            "USING (trajectory_id) WHERE p.experiment_id = ? ORDER BY p.round_added, t.task_id, "
            "t.trajectory_id",
            (experiment_id,),
        )
        out = []
        for r in rows:
            traj = Trajectory.from_json(r["json"])
            if r["train_steps"]:
                traj = dataclasses.replace(traj, steps=traj.steps[: r["train_steps"]])
            out.append(WeightedTrajectory(r["weight"], traj))
        return out

    # --- training, adapters, evaluations

    def record_training(
        self,
        experiment_id: str,
        round_: int,
        *,
        request_id: str,
        state: str,
        dataset_uri: str,
        output_uri: str,
        n_examples: int,
        run_id: str = "",
        metrics: dict[str, Any] | None = None,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO training_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                experiment_id,
                round_,
                request_id,
                run_id,
                state,
                dataset_uri,
                output_uri,
                n_examples,
                json.dumps(metrics or {}, sort_keys=True),
            ),
        )

    def training(self, experiment_id: str, round_: int) -> TrainingRow | None:
        row = self._db.execute(
            "SELECT * FROM training_runs WHERE experiment_id = ? AND round = ?",
            (experiment_id, round_),
        ).fetchone()
        if row is None:
            return None
        data = dict(row)
        metrics = json.loads(data.pop("metrics_json"))
        return TrainingRow(**data, metrics=metrics)

    def add_adapter(
        self, experiment_id: str, version: int, name: str, uri: str, round_: int
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO adapters (experiment_id, version, name, uri, round) "
            "VALUES (?, ?, ?, ?, ?)",
            (experiment_id, version, name, uri, round_),
        )

    def promote_adapter(self, experiment_id: str, version: int) -> None:
        if self.evaluation(experiment_id, self.adapter(experiment_id, version).round) is None:
            raise ValueError(f"adapter version {version} has no evaluation; evaluate it first")
        self._db.execute(
            "UPDATE adapters SET promoted = 1 WHERE experiment_id = ? AND version = ?",
            (experiment_id, version),
        )

    def adapter(self, experiment_id: str, version: int) -> AdapterRow:
        row = self._db.execute(
            "SELECT * FROM adapters WHERE experiment_id = ? AND version = ?",
            (experiment_id, version),
        ).fetchone()
        if row is None:
            raise NotFound(f"experiment {experiment_id} has no adapter version {version}")
        return _adapter(row)

    def adapters(self, experiment_id: str) -> list[AdapterRow]:
        """Every adapter the experiment trained, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM adapters WHERE experiment_id = ? ORDER BY version", (experiment_id,)
        )
        return [_adapter(r) for r in rows]

    def promoted_adapter(self, experiment_id: str) -> AdapterRow | None:
        row = self._db.execute(
            "SELECT * FROM adapters WHERE experiment_id = ? AND promoted = 1 "
            "ORDER BY version DESC LIMIT 1",
            (experiment_id,),
        ).fetchone()
        return None if row is None else _adapter(row)

    def drop_group(
        self, experiment_id: str, round_: int, phase: str, task_id: str, tries: int, reason: str
    ) -> None:
        """Records that `task_id`'s rollouts of this phase are not used (kept first if twice)."""
        self._db.execute(
            "INSERT OR IGNORE INTO dropped_groups VALUES (?, ?, ?, ?, ?, ?)",
            (experiment_id, round_, phase, task_id, tries, reason),
        )

    def dropped_groups(self, experiment_id: str, round_: int, phase: str) -> dict[str, str]:
        """The dropped groups of a round's phase: task id -> why."""
        rows = self._db.execute(
            "SELECT task_id, reason FROM dropped_groups WHERE experiment_id = ? AND round = ? "
            "AND phase = ? ORDER BY task_id",
            (experiment_id, round_, phase),
        )
        return {r["task_id"]: r["reason"] for r in rows}

    def fork_explored(self, source_id: str, experiment_id: str) -> int:
        """Gives a new experiment the source's base evaluation and round 0 up to selection (its
        attempts and explorations, copied with new ids), so that another selector can be
        measured on the same explored data (DESIGN.md step 3). The new experiment then runs
        from round 0's select phase. The explorations' rationales are left pending as at p = 1
        (a3t_controller.episode.as_explored), so that the fork's selection explains what it
        keeps with its own rationale writer (config `rationale`: ActRe or the template) and, at
        p = 1, the critic scores what the source's critic scored. Returns the trajectories
        copied.

        Refused unless the new experiment has nothing yet and the source finished exploring
        round 0. Whether their configs explore alike is the caller's check (`explores_alike`).
        """
        source = self.round(source_id, 0)
        if source is None or source.phase in ("attempt", "explore"):
            raise FailedPrecondition(
                f"experiment {source_id!r} has not finished exploring round 0; fork it after"
            )
        if self.trajectories(experiment_id) or self.round(experiment_id, 0) is not None:
            raise FailedPrecondition(
                f"experiment {experiment_id!r} already has data; a fork starts from nothing"
            )
        copied = 0
        for round_, phases in ((-1, ("eval", "eval_ungrounded")), (0, ("attempt", "explore"))):
            for phase in phases:
                for t in self.trajectories(source_id, round_, phase):
                    traj = replace(t.trajectory, trajectory_id="")  # a new id in the fork
                    if phase == "explore":  # what the fork keeps, its own rationale writer explains
                        traj = as_explored(traj)
                    self.add_trajectory(experiment_id, round_, phase, t.attempt, traj)
                    copied += 1
                with self.transaction() as db:  # what the source dropped, the fork drops too
                    db.execute(
                        "INSERT OR IGNORE INTO dropped_groups SELECT ?, round, phase, task_id, "
                        "tries, reason FROM dropped_groups WHERE experiment_id = ? AND round = ? "
                        "AND phase = ?",
                        (experiment_id, source_id, round_, phase),
                    )
        base = self.evaluation(source_id, -1)
        if base is not None:
            self.record_evaluation(
                experiment_id,
                -1,
                base.adapter,
                base.n_tasks,
                base.success_rate,
                base.by_type,
                base.cumulative_success_rate,
                admissible_share=base.admissible_share,
                ungrounded_success_rate=base.ungrounded_success_rate,
                ungrounded_admissible_share=base.ungrounded_admissible_share,
            )
        self.start_round(
            experiment_id, 0, source.policy_adapter, source.explore_probability, source.level
        )
        s, phases = source.stats, ("attempt", "explore")
        explored = RoundStats(
            attempt_total=s.attempt_total,
            attempt_solved=s.attempt_solved,
            train_level=s.train_level,
            train_split=s.train_split,
            explore_failed_tasks=s.explore_failed_tasks,
            explore_episodes=s.explore_episodes,
            explore_won=s.explore_won,
            explore_solved=s.explore_solved,
            explore_probability=s.explore_probability,
            wall_s={k: v for k, v in s.wall_s.items() if k in phases},
            cpu_s={k: v for k, v in s.cpu_s.items() if k in phases},
            rollouts_retried={k: v for k, v in s.rollouts_retried.items() if k in phases},
            groups_dropped={k: v for k, v in s.groups_dropped.items() if k in phases},
            forked_from=source_id,
        )
        self.set_round_phase(experiment_id, 0, "select", explored)
        return copied

    def record_evaluation(
        self,
        experiment_id: str,
        round_: int,
        adapter: str,
        n_tasks: int,
        success_rate: float,
        by_type: dict[str, float],
        cumulative: float,
        *,
        admissible_share: float | None = None,
        ungrounded_success_rate: float | None = None,
        ungrounded_admissible_share: float | None = None,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO evaluations (experiment_id, round, adapter, n_tasks, "
            "success_rate, by_type_json, cumulative_success_rate, admissible_share, "
            "ungrounded_success_rate, ungrounded_admissible_share) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                experiment_id,
                round_,
                adapter,
                n_tasks,
                success_rate,
                json.dumps(by_type, sort_keys=True),
                cumulative,
                admissible_share,
                ungrounded_success_rate,
                ungrounded_admissible_share,
            ),
        )

    def evaluation(self, experiment_id: str, round_: int) -> EvaluationRow | None:
        row = self._db.execute(
            "SELECT * FROM evaluations WHERE experiment_id = ? AND round = ?",
            (experiment_id, round_),
        ).fetchone()
        if row is None:
            return None
        data = dict(row)
        by_type = json.loads(data.pop("by_type_json"))
        return EvaluationRow(**data, by_type=by_type)

    def record_extra_evaluation(self, row: ExtraEvaluationRow) -> None:
        """Records an `a3t evaluate` (the same adapter, split, grounding and sample again
        replaces it)."""
        data = dataclasses.asdict(row)
        data["by_type_json"] = json.dumps(data.pop("by_type"), sort_keys=True)
        data["grounded"] = int(row.grounded)
        self._db.execute(
            f"INSERT OR REPLACE INTO extra_evaluations ({', '.join(data)}) "
            f"VALUES ({', '.join('?' * len(data))})",
            tuple(data.values()),
        )

    def extra_evaluations(self, experiment_id: str) -> list[ExtraEvaluationRow]:
        """The experiment's `a3t evaluate` results, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM extra_evaluations WHERE experiment_id = ? ORDER BY create_time",
            (experiment_id,),
        )
        out = []
        for r in rows:
            data = dict(r)
            by_type = json.loads(data.pop("by_type_json"))
            grounded = bool(data.pop("grounded"))
            out.append(ExtraEvaluationRow(**data, by_type=by_type, grounded=grounded))
        return out


def _experiment(row: sqlite3.Row) -> ExperimentRow:
    return ExperimentRow(
        experiment_id=row["experiment_id"],
        name=row["name"],
        request_id=row["request_id"],
        config=json.loads(row["config_json"]),
        state=row["state"],
        current_round=row["current_round"],
        current_phase=row["current_phase"],
        waiting_for=row["waiting_for"],
        error_message=row["error_message"],
        create_time=row["create_time"],
    )


def _round(row: sqlite3.Row) -> RoundRow:
    data = dict(row)
    stats = RoundStats.from_json_dict(json.loads(data.pop("stats_json")))
    return RoundRow(**data, stats=stats)


def _adapter(row: sqlite3.Row) -> AdapterRow:
    return AdapterRow(**{**dict(row), "promoted": bool(row["promoted"])})
