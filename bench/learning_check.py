"""The learning check: held-out success per round of `a3t run` profiles, next to baselines.

    .venv/bin/python bench/learning_check.py [--profiles default no_actre longer] [--write]
    .venv/bin/python bench/learning_check.py --profiles webshop webshop_no_actre --write

Each profile is a full `a3t run` (real service processes, SmolLM2 on the CPU, generated level-1
ALFWorld games or WebShop goals) in its own work directory under var/bench/learning/ (delete it
to measure again; an existing one is resumed). The random-action agent plays each profile's
held-out games with uniformly random admissible actions for the same step budget, several
episodes per game (WebShop: a search for the instruction's text, then random clicks). Reported:
success per round (base = before any training; WebShop also its mean score, reward x 100), what
each round collected, wall time per round, and the CPU time of all processes. With --write each
env's table replaces its "## Learning check" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from docs_section import replace_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Learning check: success per round"
SECTIONS = {"alfworld": SECTION, "webshop": "## Learning check: WebShop"}


@dataclass(frozen=True)
class Profile:
    what: str
    args: tuple[str, ...]
    rounds: int = 2
    train_count: int = 16
    eval_count: int = 8
    max_steps: int = 10  # must match the run's max_steps (make-run default: 10)
    env: str = "alfworld"
    level: int = 1  # generated level of its training and held-out games

    @property
    def section(self) -> str:
        """The docs/benchmarks.md section its table goes in: one per env and level."""
        if self.level == 1:
            return SECTIONS[self.env]
        # Not a prefix of the level-1 title: docs_section finds a section by its title.
        return SECTIONS[self.env].replace("check:", f"check, level {self.level}:")


def level5_fork(what: str, *sets: str) -> Profile:
    """A level-5 profile run on level5_listed's round-0 explored data (`--fork-from`): copy
    level5_listed's work directory to the profile's first (the comments below say how)."""
    args = [arg for value in sets for arg in ("--set", value)]
    return Profile(
        f"{what}, forked from level5_listed's round-0 explored data",
        ("--level", "5", *args, "--fork-from", "level5_listed"),
        eval_count=16,
        level=5,
    )


PROFILES = {
    "default": Profile("`make run` defaults", ()),
    "no_actre": Profile(
        "`make run` defaults, no ActRe (exploration by temperature sampling)",
        ("--set", "use_actre=false"),
    ),
    "two_positives": Profile(
        "`make run` defaults but 2 positives per task (the default until 2026-12-02)",
        ("--set", "max_positives_per_task=2"),
    ),
    "longer": Profile(
        "24 training / 16 held-out games, K=6, 2 positives per task, 3 rounds",
        ("--set", "explore_attempts=6", "--set", "max_positives_per_task=2"),
        rounds=3,
        train_count=24,
        eval_count=16,
    ),
    # WebShop's steps carry whole result pages: 8 training goals keep a round near 10 minutes.
    "webshop": Profile(
        "`a3t run --env webshop` defaults, 8 training / 8 held-out goals",
        ("--env", "webshop"),
        train_count=8,
        env="webshop",
    ),
    # Level 5: level 1's tasks, starting in the middle of a 3-receptacle room (issue 15). Its
    # held-out games are played ungrounded too after each evaluation: the model's own actions.
    "level5": Profile(
        "`make run` defaults on level 5 (start mid-room, 3 receptacles) but observations as the "
        "env prints them (show_admissible=false, the default until 2026-12-03)",
        ("--level", "5", "--set", "evaluate_ungrounded=true", "--set", "show_admissible=false"),
        eval_count=16,
        level=5,
    ),
    # Exploring by temperature sampling generates every step with the policy (about 1 CPU s a
    # step here): the make-run budget of 2400 env steps would take some 40 CPU minutes a round,
    # so this baseline gets 600 (about a quarter: 60 ten-step episodes).
    "level5_no_actre": Profile(
        "level 5, no ActRe (exploration by temperature sampling), 600 env steps a round, "
        "observations listing their valid actions",
        (
            *("--level", "5", "--set", "use_actre=false", "--set", "evaluate_ungrounded=true"),
            *("--set", "explore_step_budget=600"),
        ),
        eval_count=16,
        level=5,
    ),
    # The rationale ablation on level 5 (issue 15): ActRe's rationales (`level5_listed`, the
    # make-run defaults) against a fixed template, on level5_listed's own round-0 explored data
    # (what the paper's claim is about, and cheaper: no round-0 attempt or exploration). Copy
    # level5_listed's work directory first:
    #   cp -r var/bench/learning/level5_listed var/bench/learning/level5_template
    # The fork works because `rationale` is not an explore field; it is refused if
    # level5_listed explored with another profile (a run made before the make-run profile
    # last changed).
    "level5_template": level5_fork(
        'level 5, template rationales ("The next action is <action>.", no ActRe)',
        "rationale=template",
    ),
    # Forked the same way (cp -r .../level5_listed .../level5_self_actre): round 0's rationales
    # come from the base model either way; round 1's from the policy's promoted adapter.
    "level5_self_actre": level5_fork(
        "level 5, self-ActRe (ActRe loads each promoted adapter)", "self_actre=true"
    ),
    # Round cost as the pool grows (issue 15): round 1 trains on from round 0's adapter for one
    # epoch instead of a fresh adapter for two on the whole pool; forked the same way
    # (cp -r .../level5_listed .../level5_continue), so round 0 is level5_listed's.
    "level5_continue": level5_fork(
        "level 5, round 1 continues round 0's adapter for 1 epoch (a fresh adapter trains 2)",
        "continue_from_previous_adapter=true",
        "epochs_later_rounds=1",
    ),
    # The model's own actions (issue 15): every observation followed by the actions it could
    # take there, in what is stored, trained on and acted on (config show_admissible; the
    # make-run default on ALFWorld since this profile measured it, so the --set is explicit
    # only to keep the command that ran).
    "level5_listed": Profile(
        "`make run` defaults on level 5: observations followed by their valid actions "
        "(show_admissible)",
        (
            *("--level", "5", "--set", "show_admissible=true"),
            *("--set", "evaluate_ungrounded=true"),
        ),
        eval_count=16,
        level=5,
    ),
    "webshop_no_actre": Profile(
        "the same, no ActRe (exploration by temperature sampling)",
        ("--env", "webshop", "--set", "use_actre=false"),
        train_count=8,
        env="webshop",
    ),
}


def run_profile(name: str, profile: Profile, workdir: Path) -> dict:
    cmd = [
        str(ROOT / ".venv/bin/a3t"),
        "--workdir",
        str(workdir),
        "run",
        "--name",
        name,
        "--rounds",
        str(profile.rounds),
        "--train-count",
        str(profile.train_count),
        "--eval-count",
        str(profile.eval_count),
        *profile.args,
    ]
    # A baseline may fail (e.g. exploration found nothing to train on): that is a result too.
    result = measured_run(cmd) | read_store(workdir, name)
    # Written at once, so a later profile's failure cannot lose this one's measurement.
    (workdir / "result.json").write_text(json.dumps(result, indent=1))
    return result


def measured_run(cmd: list[str]) -> dict:
    """Runs an `a3t run` command line; its wall seconds, the CPU seconds of its whole process
    tree (every service is its child) and its exit code."""
    print(" ".join(cmd), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": time.perf_counter() - start, "cpu": cpu, "exit": code}


def read_store(workdir: Path, name: str) -> dict:
    db = sqlite3.connect(workdir / "a3t.sqlite")
    eid, state, error = db.execute(
        "SELECT experiment_id, state, error_message FROM experiments WHERE name = ?", (name,)
    ).fetchone()
    evals = {  # keyed by str(round), as in result.json
        str(r): (s, n)
        for r, s, n in db.execute(
            "SELECT round, success_rate, n_tasks FROM evaluations WHERE experiment_id = ?", (eid,)
        )
    }
    scores = {  # mean reward x 100 of each round's evaluation (WebShop's score)
        str(r): 100 * mean
        for r, mean in db.execute(
            "SELECT round, AVG(reward) FROM trajectories WHERE experiment_id = ? AND phase = "
            "'eval' GROUP BY round",
            (eid,),
        )
    }
    own = {}  # the model's own actions per evaluation (a store from before them has none)
    columns = {c[1] for c in db.execute("PRAGMA table_info(evaluations)")}
    if "admissible_share" in columns:
        own = {
            str(r): {"admissible": a, "ungrounded": u, "ungrounded_admissible": ua, "n": n}
            for r, a, u, ua, n in db.execute(
                "SELECT round, admissible_share, ungrounded_success_rate, "
                "ungrounded_admissible_share, n_tasks FROM evaluations WHERE experiment_id = ?",
                (eid,),
            )
        }
    own = fill_own_actions(db, eid, own)
    rounds = [
        {"round": r, "stats": json.loads(stats), "seconds": None if end is None else end - start}
        for r, stats, start, end in db.execute(
            "SELECT round, stats_json, start_time, end_time FROM rounds WHERE experiment_id = ? "
            "ORDER BY round",
            (eid,),
        )
    ]
    if any("rationales_checked" not in r["stats"] for r in rounds):
        fill_rationales(workdir / "a3t.sqlite", eid, rounds)
    return {
        "evals": evals,
        "scores": scores,
        "own": own,
        "rounds": rounds,
        "state": state,
        "error": error,
    }


def fill_rationales(db_path: Path, eid: str, rounds: list[dict]) -> None:
    """The rationale figure for rounds selected before `a3t run` recorded it: the env's check
    over the kept trajectories' synthesised steps, as RoundRunner._check_rationales counts."""
    from a3t.envs import env_spec
    from a3t_controller.select import kept_by_all
    from a3t_controller.store import Store

    store = Store(db_path)
    check = env_spec(store.experiment(eid).config.get("env", "alfworld")).rationale_check
    for row in rounds:
        if check is None or "rationales_checked" in row["stats"]:
            continue
        decisions = store.selections(eid, row["round"])
        kept = set(kept_by_all((d.trajectory_id, d.kept) for d in decisions))
        checked = grounded = 0
        for cand in store.trajectories(eid, row["round"], "explore"):
            if cand.trajectory_id in kept:
                steps = cand.trajectory.steps
                for i, step in enumerate(steps):
                    if step.source.synthesised:
                        checked += 1
                        grounded += not check(cand.trajectory.initial_observation, steps[:i], step)
        row["stats"] |= {"rationales_checked": checked, "rationales_grounded": grounded}
    store.close()


def fill_own_actions(db: sqlite3.Connection, eid: str, own: dict) -> dict:
    """The model's own actions for evaluations recorded before `a3t run` measured them: the
    admissible share from the stored eval steps (the policy's steps, a grounded one counting
    as not admissible, as the controller counts), and the ungrounded success from an `a3t
    evaluate NAME --round R --no-ground-actions` of the eval split run afterwards, if any."""
    shares = {
        str(r): (ok / n if n else None)
        for r, ok, n in db.execute(
            "SELECT t.round, SUM(s.source = 'policy' AND s.admissible = 1), "
            "SUM(s.source IN ('policy', 'grounded')) FROM trajectories t JOIN steps s "
            "USING (trajectory_id) WHERE t.experiment_id = ? AND t.phase = 'eval' "
            "GROUP BY t.round",
            (eid,),
        )
    }
    later = {}
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "extra_evaluations" in tables:
        split = db.execute(
            "SELECT json_extract(config_json, '$.eval_split') FROM experiments "
            "WHERE experiment_id = ?",
            (eid,),
        ).fetchone()[0]
        later = {
            str(r): (rate, share)
            for r, rate, share in db.execute(
                "SELECT round, success_rate, admissible_share FROM extra_evaluations WHERE "
                "experiment_id = ? AND phase = ?",
                (eid, f"evaluate:{split}:all:ungrounded"),
            )
        }
    evaluated = db.execute("SELECT round, n_tasks FROM evaluations WHERE experiment_id = ?", (eid,))
    for round_, n in evaluated.fetchall():
        r = str(round_)
        row = own.setdefault(
            r, {"admissible": None, "ungrounded": None, "ungrounded_admissible": None, "n": n}
        )
        if row["admissible"] is None:
            row["admissible"] = shares.get(r)
        if row["ungrounded"] is None and r in later:
            row["ungrounded"], row["ungrounded_admissible"] = later[r]
    return own


def random_agent(
    env: str, root: Path, split: str, max_steps: int, episodes: int, seed: int
) -> tuple[float, float]:
    """(success rate, mean reward) of uniformly random admissible actions on a split's tasks;
    where the env lists none (WebShop's search page) the agent searches the instruction's text."""
    from a3t.envs import env_spec

    environment = env_spec(env).environment(root)
    rng = random.Random(seed)
    won = total = 0
    reward = 0.0
    for task in environment.list_tasks(split):
        game = environment.load(task)
        for _ in range(episodes):
            instruction, state = game.reset()
            for _ in range(max_steps):
                actions = sorted(state.admissible)
                state = game.step(rng.choice(actions) if actions else f"search[{instruction}]")
                if state.done:
                    break
            won += state.won
            reward += state.reward
            total += 1
    return won / total, reward / total


def phase_cpu(stats: dict) -> str:
    """A round's CPU minutes, total and by phase, from the `cpu_s_<phase>` stats `a3t run`
    records ("-" for a run made before they existed)."""
    cpu = {k.removeprefix("cpu_s_"): v / 60 for k, v in stats.items() if k.startswith("cpu_s_")}
    if not cpu:
        return "-"
    parts = " / ".join(f"{cpu.get(p, 0):.1f}" for p in ("attempt", "explore", "select", "train"))
    # Parts of the evaluation timed apart (the ungrounded one, the extra splits': `eval_*`,
    # a3t_controller.rounds) are shown as "+ N" after the grounded evaluation's, in that order.
    extra = [cpu[k] for k in ("eval_ungrounded", "eval_extra") if k in cpu]
    evaluate = " + ".join(f"{v:.1f}" for v in [cpu.get("evaluate", 0), *extra])
    return f"{sum(cpu.values()):.1f} ({parts} / {evaluate})"


def grounded_share(stats: dict) -> str:
    """The share of a round's kept rationales the env's check found grounded, with the counts
    ("-" where not checked: another env, no rationale kept, a run before the check existed)."""
    checked, grounded = stats.get("rationales_checked"), stats.get("rationales_grounded")
    if not checked or grounded is None:
        return "-"
    return f"{100 * grounded / checked:.0f}% ({grounded}/{checked})"


def pct(rate: float, n: int) -> str:
    return f"{100 * rate:.0f}% ({round(rate * n)}/{n})"


def share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def own_actions(name: str, res: dict) -> list[str]:
    """Rows of the own-actions table: per evaluation (base first), the grounded success and
    admissible share, and the ungrounded ones where `evaluate_ungrounded` measured them."""
    rows = []
    for r, own in sorted(res.get("own", {}).items(), key=lambda item: int(item[0])):
        if own["admissible"] is None:
            continue
        rate, n = res["evals"][r]
        ungrounded = "-" if own["ungrounded"] is None else pct(own["ungrounded"], n)
        rows.append(
            f"| {name} | {'base' if r == '-1' else r} | {pct(rate, n)} | "
            f"{share(own['admissible'])} | {ungrounded} | {share(own['ungrounded_admissible'])} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["default", "no_actre"], choices=PROFILES)
    parser.add_argument("--random-episodes", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: build the table from each profile's result.json of an earlier run",
    )
    args = parser.parse_args()
    base = ROOT / "var" / "bench" / "learning"
    for section in dict.fromkeys(PROFILES[name].section for name in args.profiles):
        names = [name for name in args.profiles if PROFILES[name].section == section]
        body = env_section(names, base, args)
        print(body)
        if args.write:
            replace_section(section, body)


def env_section(names: list[str], base: Path, args: argparse.Namespace) -> str:
    first = PROFILES[names[0]]
    env, level = first.env, first.level
    scored = env == "webshop"
    what = f"generated level-{level} " + ("games" if env == "alfworld" else "WebShop goals")
    lines = [
        first.section,
        "",
        f"Command: `.venv/bin/python bench/learning_check.py --profiles {' '.join(names)}"
        f" --write` ({date.today()}, {platform.machine()} {os.cpu_count()}-core CPU, "
        f"SmolLM2-135M-Instruct float32, every service a real process, {what}, "
        "10 steps per episode). Success = held-out tasks won with one greedy attempt"
        + ("; score = mean reward x 100, as WebShop papers report it." if scored else "."),
        "",
        "| profile | rounds | base | after round 0 | after round 1 | after round 2 "
        f"| random {'clicks' if scored else 'actions'} | wall min | CPU min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    own: list[str] = []
    failures: list[str] = []
    for name in names:
        profile = PROFILES[name]
        workdir = base / name
        if args.report_only:
            res = json.loads((workdir / "result.json").read_text()) | read_store(workdir, name)
        else:
            res = run_profile(name, profile, workdir)
        # a3t run: eval seed = seed + 1000
        eval_split = f"gen_l{profile.level}_s1000_n{profile.eval_count}"
        rand, rand_score = random_agent(
            env,
            workdir / "envs" / env,
            eval_split,
            profile.max_steps,
            args.random_episodes,
            seed=0,
        )
        cells = []
        for r in (-1, 0, 1, 2):
            cell = pct(*res["evals"][str(r)]) if str(r) in res["evals"] else "-"
            if scored and str(r) in res.get("scores", {}):
                cell += f", score {res['scores'][str(r)]:.1f}"
            cells.append(cell)
        if res["state"] != "succeeded":
            why = f": {res['error']}" if res["error"] else " (stopped before it finished)"
            failures.append(f"- {name}: experiment {res['state']}{why}")
        random_cell = f"{100 * rand:.0f}%" + (f", score {100 * rand_score:.1f}" if scored else "")
        lines.append(
            f"| {name}: {profile.what} | {profile.rounds} | "
            + " | ".join(cells)
            + f" | {random_cell} | {res['wall'] / 60:.1f} | {res['cpu'] / 60:.1f} |"
        )
        own += own_actions(name, res)
        for row in res["rounds"]:
            s = row["stats"]
            details.append(
                f"| {name} | {row['round']} | {s.get('attempt_solved', '-')}/"
                f"{s.get('attempt_total', '-')} | {s.get('explore_solved', '-')}/"
                f"{s.get('explore_failed_tasks', '-')} ({s.get('explore_won', '-')} won of "
                f"{s.get('explore_episodes', '-')}, {s.get('explore_env_steps', '-')} env steps)"
                f" | {grounded_share(s)} | {s.get('pool_positive', '-')} / "
                f"{s.get('pool_negative', '-')} | {s.get('train_steps', '-')} | "
                + ("unfinished |" if row["seconds"] is None else f"{row['seconds'] / 60:.1f} |")
                + f" {phase_cpu(s)} |"
            )
    lines += [
        "",
        "Per round (attempt = the round's policy, greedy, on the training tasks; explore = "
        "failed tasks solved by exploration; rationales grounded = kept rationales that name "
        "their action's object or target and claim nothing the observations contradict, "
        "a3t/envs/alfworld/rationale.py; pool = what the round added):",
        "",
        "| profile | round | attempt solved | explore solved | rationales grounded "
        "| pool + / - | optimizer steps "
        "| wall min | CPU min: total (attempt / explore / select / train / evaluate) |",
        "|---|---|---|---|---|---|---|---|---|",
        *details,
    ]
    if own:
        lines += [
            "",
            "The model's own actions, per evaluation on the held-out games (admissible = the "
            "share of the policy's steps whose generated action was admissible before "
            "grounding; ungrounded = the same games played again with grounding off, "
            "`--set evaluate_ungrounded=true`):",
            "",
            "| profile | round | success, grounded | admissible | success, ungrounded "
            "| admissible, ungrounded |",
            "|---|---|---|---|---|---|",
            *own,
        ]
    lines += [
        *(["", "Runs that did not finish:", "", *failures] if failures else []),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
