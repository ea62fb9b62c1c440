"""Creates the chart's experiment on the a3t controller; the chart's experiment Job runs it.

    python create_experiment.py --config experiment.yaml --controller HOST:PORT \
        [--generate generate.yaml --env-target HOST:PORT] [--request-id ID]

First asks the env service to generate the splits listed in generate.yaml ([{split, level, seed,
count}], env GenerateTasks), then calls ControllerService.CreateExperiment with the whole
experiment YAML as config_yaml. Both calls are idempotent: generating a split again returns it as
it is, and the request id (by default a hash of the files) makes a second CreateExperiment return
the experiment the first one made. Services that are still starting (UNAVAILABLE) are retried until
--wait-seconds have passed. Exits 0 on success, 1 when the controller refuses the experiment.
Channels come from a3t.rpc.client.channel(), so the Job sends the chart's shared token and
speaks TLS when the chart configures them (A3T_AUTH_TOKEN_FILE, A3T_TLS_CA_FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import yaml

from a3t.controller.v1 import controller_pb2, controller_pb2_grpc
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.errors import ConfigError
from a3t.rpc.client import channel

log = logging.getLogger("create_experiment")

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# Generating games loads and checks each one (seconds per game).
GENERATE_TIMEOUT_SECONDS = 600.0
CREATE_TIMEOUT_SECONDS = 60.0


async def call_until_served(
    method: Callable[..., Any],
    request: Any,
    *,
    timeout: float,
    deadline: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Any:
    """Calls `method`, retrying UNAVAILABLE/DEADLINE_EXCEEDED with backoff until `deadline`."""
    delay = 1.0
    while True:
        try:
            return await method(request, timeout=timeout)
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                raise
            log.info("%s; retrying in %.0f s", exc.code().name, delay)
            await sleep(delay)
            delay = min(delay * 2, 15.0)


def read_generate(path: Path | None) -> list[dict[str, Any]]:
    """The splits to generate; ValueError naming what is wrong."""
    if path is None:
        return []
    loaded = yaml.safe_load(path.read_text()) or []
    keys = {"split", "level", "seed", "count"}
    if not isinstance(loaded, list) or not all(
        isinstance(item, dict) and set(item) == keys for item in loaded
    ):
        raise ValueError(
            f"{path}: expected a list of {{split, level, seed, count}}, got {loaded!r}"
        )
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="experiment YAML")
    parser.add_argument("--controller", required=True, help="controller host:port")
    parser.add_argument("--generate", type=Path, help="YAML list of splits to generate first")
    parser.add_argument("--env-target", help="env host:port (needed with a non-empty --generate)")
    parser.add_argument("--request-id", help="idempotency key; default: hash of the files")
    parser.add_argument("--wait-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    config_yaml = args.config.read_text()
    config = yaml.safe_load(config_yaml) or {}
    if not isinstance(config, dict):
        log.error("%s: the experiment must be a mapping of ExperimentConfig fields", args.config)
        return 1
    try:
        splits = read_generate(args.generate)
    except ValueError as exc:
        log.error("%s", exc)
        return 1
    if splits and not args.env_target:
        log.error("--generate lists %d splits but no --env-target was given", len(splits))
        return 1
    generate_text = args.generate.read_text() if args.generate else ""
    request_id = (
        args.request_id
        or hashlib.sha256((config_yaml + "\n" + generate_text).encode()).hexdigest()[:32]
    )
    deadline = time.monotonic() + args.wait_seconds
    try:
        exp = asyncio.run(create(args, config, config_yaml, splits, request_id, deadline))
    except ConfigError as exc:  # an unusable token or CA file
        log.error("%s", exc)
        return 1
    except grpc.RpcError as exc:
        log.error("%s: %s", exc.code().name, exc.details())
        return 1
    log.info(
        "experiment %s (%s): %s",
        exp.spec.name,
        exp.experiment_id,
        controller_pb2.ExperimentState.Name(exp.state),
    )
    return 0


async def create(
    args: argparse.Namespace,
    config: dict[str, Any],
    config_yaml: str,
    splits: list[dict[str, Any]],
    request_id: str,
    deadline: float,
) -> controller_pb2.Experiment:
    """Generates the splits, then creates the experiment; returns it."""
    # --- step 1: the generated splits the experiment plays
    if splits:
        async with channel(args.env_target) as chan:
            env = env_pb2_grpc.EnvServiceStub(chan)
            for item in splits:
                resp = await call_until_served(
                    env.GenerateTasks,
                    env_pb2.GenerateTasksRequest(
                        env=config.get("env", "alfworld"),
                        split=str(item["split"]),
                        level=int(item["level"]),
                        seed=int(item["seed"]),
                        count=int(item["count"]),
                    ),
                    timeout=GENERATE_TIMEOUT_SECONDS,
                    deadline=deadline,
                )
                log.info("split %s: %d tasks", resp.split, resp.total_size)

    # --- step 2: the experiment itself
    async with channel(args.controller) as chan:
        controller = controller_pb2_grpc.ControllerServiceStub(chan)
        return await call_until_served(
            controller.CreateExperiment,
            controller_pb2.CreateExperimentRequest(
                request_id=request_id,
                spec=controller_pb2.ExperimentSpec(config_yaml=config_yaml),
            ),
            timeout=CREATE_TIMEOUT_SECONDS,
            deadline=deadline,
        )


if __name__ == "__main__":
    sys.exit(main())
