"""The `a3t` command: run the whole loop locally, inspect and export experiments, serve a service.

    a3t run [--rounds N] [--data-root DIR] ...   the embedded default (what `make run` calls)
    a3t status                                   experiments in the store and where they are
    a3t report NAME [--plot FILE.png]            a markdown table per round (+ a plot)
    a3t evaluate NAME [--round R] [--no-ground-actions] [--split S] [--count N]
                                                 a stored adapter on any split, recorded apart
    a3t export NAME --out FILE.jsonl             every trajectory, loadable by `datasets`
    a3t resume NAME [--controller HOST:PORT]     a failed experiment of a controller service, again
    a3t serve SERVICE [ARGS...]                  python -m a3t_<SERVICE> ARGS

`a3t run` starts env, policy, actre and trainer (and critic when the selector needs it) as local
processes on free loopback ports, waits for their health, and runs the configured rounds with
progress bars. Run it again with the same --name and it resumes where it stopped (a failed run
too). `a3t resume` does the same for an experiment of a controller service (a deployment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from a3t.errors import A3tError, ConfigError, NotFound, quote
from a3t.procs import ServiceProcess, start_service, tree_cpu_seconds
from a3t.rpc.client import channel
from a3t_controller.config import ExperimentConfig, load_config_yaml, load_yaml_value
from a3t_controller.report import export_jsonl, markdown_report, plot_report
from a3t_controller.store import Store

log = logging.getLogger("a3t")

# The `make run` profile: small enough for a round in minutes on a 2-core CPU with SmolLM2.
# Generated games of level 1 need 2-3 steps, those of level 5 (mid-room start) 3-4; random
# admissible actions win 58% and 31% of 20-step episodes there (docs/benchmarks.md). So at
# p = 1.0 (the base model cannot act yet) each failed task is explored until it has 3 wins
# (at most 40 attempts, within an env-step budget), and selection keeps the shortest.
# lr 1e-3 (the paper's 1e-4 is for a 7B model): measured, a round at 3e-4 (10 positives, 24
# optimizer steps) left the adapter writing "Think: Think: ..."; at 1e-3 the adapter wrote
# `think: ...` steps with admissible actions.
LOCAL_DEFAULTS = {
    "name": "local",
    "rounds": 2,
    # p = 1 every round: exploration costs only env steps (and ActRe for the kept wins); at
    # p = 0.5 round 1's exploration generated with the policy and ActRe at every step and took
    # 8.7 of its 16.0 minutes (docs/benchmarks.md). The paper's decaying schedule is the config's.
    "explore_probability": [1.0],
    # One (the shortest) win per task: with 2, round 0 took 12.6 CPU minutes and its adapter
    # won 1/8 held-out games either way (docs/benchmarks.md, learning check).
    "max_positives_per_task": 1,
    "epochs_first_round": 3,
    # A later round trains on from the promoted adapter for 1 epoch over the whole pool: on
    # level 5 it matched a fresh adapter's 2 epochs (10/16 held-out either way) with half the
    # optimizer steps and training CPU, 2.5 vs 5.2 minutes in round 1, a gap that grows with the
    # pool (docs/benchmarks.md, "Learning check, level 5").
    "continue_from_previous_adapter": True,
    "epochs_later_rounds": 1,
    "learning_rate": 1e-3,
    "concurrency": 4,
}
# Tokens the policy may write per step, by env: a thought line and an action. ALFWorld's fit in
# 40 (more only buys run-on text on a CPU); WebShop's searches are longer: at 40, 5 of 8 base
# SmolLM2 searches on held-out goals were cut before their closing `]` (measured 2026-12-02).
LOCAL_POLICY_TOKENS = {"alfworld": 40, "webshop": 64, "apibank": 96}
# Generated games per split when --train-count / --eval-count are not given.
GENERATED_TRAIN_COUNT, GENERATED_EVAL_COUNT = 16, 8
# The profile's per-env part (an env not listed here runs with its plugin's defaults).
LOCAL_ENV_DEFAULTS = {
    # Adaptive exploration (K = ALFWorld's 40 attempts at most): 3 wins per task, so the kept
    # win is the shortest of 3; 2400 env steps a round (150 per task) bound a level where
    # random walks rarely win. Exploration at p = 1 costs only env steps: a 10-step episode
    # took about 0.3 CPU s (docs/benchmarks.md).
    "alfworld": {"max_steps": 10, "explore_wins": 3, "explore_step_budget": 2400},
    "webshop": {"max_steps": 10, "explore_attempts": 4},
}


def _parse_set(items: list[str]) -> dict:
    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError([f"--set {quote(item)}: expected KEY=VALUE"])
        values[key.strip()] = load_yaml_value(raw, f"--set {key.strip()[:64]}")
    return values


def generated_counts(args: argparse.Namespace) -> tuple[int, int]:
    """Generated training and held-out games (--train-count, --eval-count; 16 and 8 unset)."""
    train = GENERATED_TRAIN_COUNT if args.train_count is None else args.train_count
    return train, GENERATED_EVAL_COUNT if args.eval_count is None else args.eval_count


def experiment_config(args: argparse.Namespace) -> ExperimentConfig:
    """The profile, then the env's part of it, then --experiment YAML, flags and --set."""
    given = {}
    if args.experiment:
        try:
            text = Path(args.experiment).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"--experiment {args.experiment}: cannot read it: {exc}"]) from exc
        given.update(load_config_yaml(text, args.experiment))
    if args.data_root:
        given.setdefault("train_split", args.train_split or "valid_train")
        given.setdefault("eval_split", args.eval_split or "valid_seen")
        # Real splits: a seeded sample of that many tasks, stratified by task type.
        if args.train_count is not None:
            given["max_train_tasks"] = args.train_count
        if args.eval_count is not None:
            given["max_eval_tasks"] = args.eval_count
    else:
        train_count, eval_count = generated_counts(args)
        given["train_split"] = f"gen_l{args.level}_s{args.seed}_n{train_count}"
        given["eval_split"] = f"gen_l{args.level}_s{args.seed + 1000}_n{eval_count}"
    for key in ("name", "rounds", "base_model", "env"):
        value = getattr(args, key.replace("-", "_"), None)
        if value is not None:
            given[key] = value
    given.update(_parse_set(args.set))
    env = given.get("env", "alfworld")
    profile = LOCAL_ENV_DEFAULTS.get(env, {}) if isinstance(env, str) else {}
    config = ExperimentConfig.from_dict({**LOCAL_DEFAULTS, **profile, **given})
    held_out = level_held_out_splits(args, config)
    if held_out:  # a curriculum is evaluated on every level's held-out games, every round
        extra = [s for s in held_out.values() if s != config.eval_split]
        extra += [s for s in config.extra_eval_splits if s not in extra]
        config = ExperimentConfig.from_dict({**config.to_dict(), "extra_eval_splits": extra})
    return config


def level_held_out_splits(args: argparse.Namespace, config: ExperimentConfig) -> dict[int, str]:
    """Each curriculum level's generated held-out split, named as the eval split of `a3t run
    --level L` is (seed + 1000); {} without a curriculum or with --data-root."""
    if args.data_root or not config.curriculum_levels:
        return {}
    _, eval_count = generated_counts(args)
    return {
        level: f"gen_l{level}_s{args.seed + 1000}_n{eval_count}"
        for level in config.curriculum_levels
    }


def _artifacts(workdir: Path) -> list[str]:
    # Adapters and datasets live under the workdir's artifacts: the services refuse any other
    # path a request names (a3t.artifacts.resolve_under).
    return ["--artifact-root", str((workdir / "artifacts").resolve())]


def _model(config: ExperimentConfig, workdir: Path) -> list[str]:
    # One torch thread per model service: policy and ActRe decode at the same time during
    # exploration, and more threads than free cores is 10-30x slower (NOTES.md).
    return ["--model", config.base_model, "--threads", "1", *_artifacts(workdir)]


def _env_and_policy(
    args: argparse.Namespace, config: ExperimentConfig, workdir: Path
) -> dict[str, list[str]]:
    """The env's and the policy's flags: what `a3t evaluate` starts, and `a3t run` with more."""
    # Generated tasks go under the workdir, one folder per env; --data-root points the run's env
    # at real data instead.
    env_args = ["--data-root", str(workdir / "envs"), "--envs", config.env]
    if args.data_root:
        env_args += ["--env-data-roots", f"{config.env}={Path(args.data_root).resolve()}"]
    policy_tokens = args.policy_max_new_tokens or LOCAL_POLICY_TOKENS.get(config.env, 64)
    return {
        "env": [*env_args, "--workers", str(args.env_workers)],
        "policy": [*_model(config, workdir), "--max-new-tokens", str(policy_tokens)],
    }


async def _start_services(
    args: argparse.Namespace, config: ExperimentConfig, workdir: Path
) -> dict[str, ServiceProcess]:
    artifacts = _artifacts(workdir)
    model = _model(config, workdir)
    specs = {
        **_env_and_policy(args, config, workdir),
        # Small optimizer steps: a make-run pool is a few thousand tokens, and one step per
        # epoch (the trainer's 8192-token default) barely moves a LoRA in 3 epochs.
        # Phases run one after another, so while the trainer trains nothing else computes: it
        # gets every core (`--trainer-threads`); the model services keep one thread each.
        "trainer": [
            "--state-dir",
            str(workdir / "trainer"),
            "--tokens-per-step",
            "1024",
            "--torch-threads",
            str(args.trainer_threads),
            *artifacts,
        ],
    }
    if args.eval_data_root:
        # Real splits to evaluate on (extra_eval_splits) beside the generated games: the env
        # lists and plays them from a read-only root and never writes there.
        real = Path(args.eval_data_root).resolve()
        specs["env"] += ["--env-read-only-roots", f"{config.env}={real}"]
    if config.needs_actre():
        specs["actre"] = [*model, "--max-new-tokens", str(args.actre_max_new_tokens)]
    if config.selector in ("critic", "hybrid"):
        specs["critic"] = [*model, "--scoring", args.critic_scoring]
    return await _start(specs, workdir / "logs", args.start_timeout)


async def _start(
    specs: dict[str, list[str]], logs: Path, timeout: float
) -> dict[str, ServiceProcess]:
    """Starts each service (name -> its flags) as a local process and waits for its health;
    stops them all if one fails to start."""
    procs = {}
    try:
        for name, extra in specs.items():
            procs[name] = start_service(name, extra, log_dir=logs, die_with_parent=True)
        for name, proc in procs.items():
            print(f"waiting for {name} (log: {proc.log_path}) ...", flush=True)
            await proc.wait_ready(timeout=timeout)
    except BaseException:
        for proc in procs.values():
            proc.stop()
        raise
    return procs


def check_data_roots(args: argparse.Namespace) -> None:
    """Refuses a --data-root / --eval-data-root that is not a directory before any service
    starts: the env service refuses it too, but only from its own log, after the wait for it
    (a bench run with a wrong path printed nothing for 40 s)."""
    for flag in ("data_root", "eval_data_root"):
        value = getattr(args, flag, None)
        if value and not Path(value).is_dir():
            name = "--" + flag.replace("_", "-")
            raise ConfigError([f"{name} {value}: not a directory"])


async def run_local(args: argparse.Namespace) -> int:
    from a3t_controller.progress import ProgressPrinter
    from a3t_controller.rounds import RoundRunner
    from a3t_controller.wiring import build_services

    check_data_roots(args)
    config = experiment_config(args)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(workdir / "a3t.sqlite")
    procs = await _start_services(args, config, workdir)
    try:
        services = build_services(
            {name: proc.target for name, proc in procs.items()},
            store,
            args.service_wait_seconds,
            ground_actions=args.ground_actions,
        )
        if not args.data_root:
            train_count, eval_count = generated_counts(args)
            for split, seed, count in (
                (config.train_split, args.seed, train_count),
                (config.eval_split, args.seed + 1000, eval_count),
            ):
                n = await services.tasks.generate(config.env, split, args.level, seed, count)
                print(f"games: split {split} has {n} generated level-{args.level} games")
            for level, split in level_held_out_splits(args, config).items():
                n = await services.tasks.generate(
                    config.env, split, level, args.seed + 1000, eval_count
                )
                print(f"games: held-out split {split} has {n} generated level-{level} games")
        exp = store.create_experiment(config.name, f"local-{config.name}", config.to_dict())
        if args.fork_from and exp.state == "pending" and store.round(exp.experiment_id, 0) is None:
            fork(store, args.fork_from, config, exp.experiment_id)
        where = (
            "new"
            if exp.state == "pending"
            else f"{exp.state}, resuming at round {exp.current_round} {exp.current_phase}"
        )
        print(f"experiment {exp.name} ({exp.experiment_id}): {where}; store {store.path}")
        printer = ProgressPrinter()
        runner = RoundRunner(
            store,
            services,
            workdir / "artifacts",
            printer.update,
            # Every service is a child of this process: the tree's CPU is the whole run's.
            cpu_clock=lambda: tree_cpu_seconds(os.getpid()),
        )
        try:
            await runner.run(exp.experiment_id)
        finally:
            printer.close()
        print()
        print(markdown_report(store, exp.experiment_id))
        plot = workdir / f"{exp.name}-report.png"
        plot_report(store, exp.experiment_id, plot)
        print(f"\nplot: {plot}")
        return 0
    finally:
        for proc in procs.values():
            proc.stop()
        store.close()


def fork(store: Store, source_name: str, config: ExperimentConfig, experiment_id: str) -> None:
    """Starts `experiment_id` from `source_name`'s round 0 explored data (--fork-from)."""
    source = store.experiment(source_name)
    unlike = config.explores_unlike(ExperimentConfig.from_dict(source.config))
    if unlike:
        raise ConfigError(
            [
                f"--fork-from {source_name}: its config explores differently ({', '.join(unlike)} "
                "differ); a fork measures another selector on the same explored data, so give "
                "the same values"
            ]
        )
    copied = store.fork_explored(source.experiment_id, experiment_id)
    print(f"forked from {source_name}: {copied} trajectories (base evaluation, round 0 explored)")


async def _until_sigterm(work) -> int:
    """Runs `work`; SIGTERM cancels it like Ctrl-C, so its `finally` stops the services and the
    experiment is left resumable."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def resume(target: str, name: str) -> int:
    """ResumeExperiment on the controller at `target`; prints where the experiment stands."""
    from grpc import aio

    from a3t.controller.v1 import controller_pb2, controller_pb2_grpc

    async with channel(target) as chan:
        stub = controller_pb2_grpc.ControllerServiceStub(chan)
        try:
            exp = await stub.ResumeExperiment(
                controller_pb2.ResumeExperimentRequest(experiment_id=name), timeout=30
            )
        except aio.AioRpcError as exc:
            print(f"a3t resume: {exc.code().name}: {exc.details()} ({target})", file=sys.stderr)
            return 2
    state = controller_pb2.ExperimentState.Name(exp.state).removeprefix("EXPERIMENT_STATE_")
    phase = controller_pb2.RoundPhase.Name(exp.current_phase).removeprefix("ROUND_PHASE_")
    print(f"{exp.spec.name} {state.lower()} at round {exp.current_round} {phase.lower()}")
    return 0


def round_arg(value: str) -> int:
    """--round: a round number, or `base` (also -1) for the base model."""
    if value == "base":
        return -1
    try:
        round_ = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a round: give a round number (0, 1, ...) or 'base'"
        ) from None
    if round_ < -1:
        raise argparse.ArgumentTypeError(f"{round_} is not a round: rounds count from 0 (-1: base)")
    return round_


def evaluated_round(store: Store, name: str, asked: int | None) -> int:
    """The round whose adapter `a3t evaluate` plays (-1: the base model): the one asked for,
    else the promoted adapter's, else the base model. NotFound, naming the rounds that have
    an adapter, for a round that trained none."""
    experiment = store.experiment(name)
    adapters = store.adapters(experiment.experiment_id)
    if asked is None:
        promoted = [a for a in adapters if a.promoted]
        return promoted[-1].round if promoted else -1
    if asked == -1 or any(a.round == asked for a in adapters):
        return asked
    have = ", ".join(str(a.round) for a in adapters) or "none yet"
    raise NotFound(
        f"experiment {experiment.name!r} has no adapter of round {asked} (rounds with one: "
        f"{have}); --round base evaluates the base model"
    )


async def evaluate(args: argparse.Namespace) -> int:
    """`a3t evaluate`: starts env and policy, plays the stored adapter on the split, records
    and prints the evaluation (a3t_controller.rounds.RoundRunner.evaluate_stored)."""
    from a3t_controller.patience import ServiceFailed
    from a3t_controller.progress import ProgressPrinter
    from a3t_controller.rounds import BASE_ROUND, RoundRunner
    from a3t_controller.wiring import build_services

    if args.count < 0:
        raise ConfigError([f"--count must be >= 0 (0 = every task of the split), got {args.count}"])
    check_data_roots(args)
    workdir = Path(args.workdir)
    store = _store(args)
    try:
        experiment = store.experiment(args.name)
        config = ExperimentConfig.from_dict(experiment.config)
        round_ = evaluated_round(store, args.name, args.round)
        split = args.split or config.eval_split
        procs = await _start(
            _env_and_policy(args, config, workdir), workdir / "logs", args.start_timeout
        )
        try:
            services = build_services(
                {name: proc.target for name, proc in procs.items()},
                store,
                args.service_wait_seconds,
                ground_actions=True,  # the evaluation's phase says when not (rounds.grounding)
            )
            try:
                await services.tasks.list_tasks(config.env, split)
            except ServiceFailed as exc:
                if exc.code_name != "NOT_FOUND":
                    raise
                where = args.data_root or f"the generated games under {workdir / 'envs'}"
                raise NotFound(
                    f"--split {quote(split)}: not found in {where}: {exc.details}"
                ) from None
            printer = ProgressPrinter()
            runner = RoundRunner(
                store,
                services,
                workdir / "artifacts",
                printer.update,
                cpu_clock=lambda: tree_cpu_seconds(os.getpid()),
            )
            try:
                row = await runner.evaluate_stored(
                    experiment.experiment_id,
                    round_,
                    split,
                    grounded=args.ground_actions,
                    count=args.count,
                )
            finally:
                printer.close()
        finally:
            for proc in procs.values():
                proc.stop()
    finally:
        store.close()
    what = "the base model" if row.round == BASE_ROUND else f"{row.adapter} (round {row.round})"
    share = "-" if row.admissible_share is None else f"{100 * row.admissible_share:.1f}%"
    by_type = ", ".join(f"{t} {100 * r:.1f}%" for t, r in row.by_type.items())
    print(
        f"{experiment.name}: {what} on {split}, grounding {'on' if row.grounded else 'off'}: "
        f"{row.n_tasks} tasks, success {100 * row.success_rate:.1f}%, admissible actions "
        f"{share} ({by_type}); {row.wall_s / 60:.1f} min. Episodes: phase {row.phase!r} of "
        f"round {row.round}; `a3t report {experiment.name}` lists it"
    )
    return 0


def _store(args: argparse.Namespace) -> Store:
    path = Path(args.workdir) / "a3t.sqlite"
    if not path.is_file():
        raise ConfigError([f"no trajectory store at {path}; run `a3t run` first or pass --workdir"])
    return Store(path)


def _global_flags(parser: argparse.ArgumentParser, defaults: bool) -> argparse.ArgumentParser:
    """--workdir and --log-level. Each subcommand takes them too (`a3t report NAME --workdir X`);
    there they default to SUPPRESS, so a value given before the subcommand is not overwritten."""
    parser.add_argument(
        "--workdir",
        help="where the store, artifacts and logs live (default $A3T_WORKDIR or var/run)",
        default=os.environ.get("A3T_WORKDIR", "var/run") if defaults else argparse.SUPPRESS,
    )
    parser.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING (default) or ERROR",
        default="WARNING" if defaults else argparse.SUPPRESS,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="a3t", description=__doc__.split("\n\n")[0])
    _global_flags(parser, defaults=True)
    common = _global_flags(argparse.ArgumentParser(add_help=False), defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)
    # "serve" passes everything after the service name on: it takes no global flags after it.
    for_sub = [common]

    run = sub.add_parser(
        "run", help="run the A3T loop locally (the embedded default)", parents=for_sub
    )
    run.add_argument("--name", help="experiment name; the same name resumes it")
    run.add_argument("--rounds", type=int)
    run.add_argument("--base-model", help="model of policy, actre and trainer (default smollm2)")
    run.add_argument(
        "--env",
        help="environment to train on: alfworld (default) or webshop (a3t.envs; "
        "docs/environments.md)",
    )
    run.add_argument(
        "--data-root",
        help="the env's real data (ALFWorld: the json_2.1.1 layout; default: generated tasks)",
    )
    run.add_argument(
        "--eval-data-root",
        metavar="DIR",
        help="real data the env also serves, read-only, next to the generated games (ALFWorld: "
        "the json_2.1.1 layout, e.g. ../shared/data/alfworld): its splits can be named in "
        "--set extra_eval_splits=[valid_unseen]; never written to, and a split name it shares "
        "with a generated split is refused",
    )
    run.add_argument("--train-split")
    run.add_argument("--eval-split")
    run.add_argument("--level", type=int, default=1, help="generated game difficulty level")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--train-count",
        type=int,
        help="generated training games (default 16); with --data-root a seeded sample of that "
        "many training tasks, stratified by task type (max_train_tasks; default all)",
    )
    run.add_argument(
        "--eval-count",
        type=int,
        help="generated held-out games (default 8); with --data-root a seeded, stratified "
        "sample of that many held-out tasks (max_eval_tasks; default all)",
    )
    run.add_argument(
        "--policy-max-new-tokens",
        type=int,
        help="tokens per policy step (default by env: ALFWorld 40, WebShop 64, API-Bank 96)",
    )
    run.add_argument("--actre-max-new-tokens", type=int, default=32)
    run.add_argument(
        "--critic-scoring",
        choices=["text", "probability"],
        default="text",
        help="how the critic scores (selector critic/hybrid): its written 0-10 score, or 10 x "
        "its probability of answering yes to 'did the agent accomplish the task'",
    )
    run.add_argument("--experiment", help="YAML of ExperimentConfig fields")
    run.add_argument(
        "--fork-from",
        metavar="NAME",
        help="a new experiment starts from NAME's round 0 explored data (same store), to "
        "measure another selector on it; the exploring settings must match",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one ExperimentConfig field (repeatable)",
    )
    run.add_argument(
        "--ground-actions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replace a non-admissible action by the admissible one the model scores highest "
        "(default on: a trained SmolLM2 misspells objects and adds words, e.g. 'take "
        "toiletpaper 2 from the garbagecan 1')",
    )
    run.add_argument(
        "--env-workers",
        type=int,
        default=2,
        help="env worker processes (loading a game is CPU work: exploration opens many)",
    )
    run.add_argument(
        "--trainer-threads",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="torch threads of the trainer (default: the cores, at most 8)",
    )
    run.add_argument("--start-timeout", type=float, default=600.0)
    run.add_argument(
        "--service-wait-seconds",
        type=float,
        default=600.0,
        help="how long a call waits for a service that does not answer before the run fails",
    )

    ev = sub.add_parser(
        "evaluate",
        help="evaluate a stored adapter (or the base model) on any split, outside the rounds",
        parents=for_sub,
    )
    ev.add_argument("name", help="experiment name or id")
    ev.add_argument(
        "--round",
        type=round_arg,
        help="the adapter trained in this round; 'base' or -1: the base model (default: the "
        "promoted adapter, or the base model before any)",
    )
    ev.add_argument(
        "--ground-actions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ground non-admissible actions as `a3t run` does (default on); "
        "--no-ground-actions measures the model's own actions",
    )
    ev.add_argument("--split", help="the split to play (default: the experiment's eval_split)")
    ev.add_argument(
        "--count",
        type=int,
        default=0,
        help="a seeded sample of this many tasks, stratified by task type (default 0: all)",
    )
    ev.add_argument(
        "--data-root",
        help="the env's real data, as given to `a3t run` (default: the generated games)",
    )
    ev.add_argument("--env-workers", type=int, default=2)
    ev.add_argument(
        "--policy-max-new-tokens",
        type=int,
        help="tokens per policy step (default by env, as `a3t run`)",
    )
    ev.add_argument("--start-timeout", type=float, default=600.0)
    ev.add_argument("--service-wait-seconds", type=float, default=600.0)
    sub.add_parser("status", help="experiments in the store", parents=for_sub)
    rep = sub.add_parser("report", help="markdown table per round, and a plot", parents=for_sub)
    rep.add_argument("name")
    rep.add_argument("--plot", help="write a PNG plot of success per round and task type")
    exp = sub.add_parser(
        "export", help="trajectories as JSONL (datasets.load_dataset('json'))", parents=for_sub
    )
    exp.add_argument("name")
    exp.add_argument("--out", required=True)
    res = sub.add_parser(
        "resume",
        help="run a failed or cancelled experiment of a controller service again",
        parents=for_sub,
    )
    res.add_argument("name", help="experiment name or id")
    res.add_argument(
        "--controller",
        default=os.environ.get("A3T_CONTROLLER", "127.0.0.1:50056"),
        help="the controller service, host:port (default $A3T_CONTROLLER or 127.0.0.1:50056)",
    )
    srv = sub.add_parser("serve", help="run one service: a3t serve env --port 50051 ...")
    srv.add_argument(
        "service", choices=["env", "policy", "actre", "critic", "trainer", "controller"]
    )
    srv.add_argument("args", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "run":
            return asyncio.run(_until_sigterm(run_local(args)))
        if args.command == "serve":
            os.execv(sys.executable, [sys.executable, "-m", f"a3t_{args.service}", *args.args])
        if args.command == "resume":
            return asyncio.run(resume(args.controller, args.name))
        if args.command == "evaluate":
            return asyncio.run(_until_sigterm(evaluate(args)))
        store = _store(args)
        if args.command == "status":
            rows = store.experiments()
            if not rows:
                print("no experiments")
            for row in rows:
                print(
                    f"{row.name:20s} {row.state:10s} round {row.current_round} "
                    f"phase {row.current_phase:9s} {row.experiment_id}"
                    + (f"  {row.waiting_for}" if row.waiting_for else "")
                    + (f"  error: {row.error_message}" if row.error_message else "")
                )
            return 0
        experiment = store.experiment(args.name)
        if args.command == "report":
            print(markdown_report(store, experiment.experiment_id))
            if args.plot:
                plot_report(store, experiment.experiment_id, Path(args.plot))
                print(f"plot: {args.plot}")
            return 0
        if args.command == "export":
            n = export_jsonl(store, experiment.experiment_id, Path(args.out))
            print(json.dumps({"trajectories": n, "out": args.out}))
            return 0
    except A3tError as exc:
        print(f"a3t {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
