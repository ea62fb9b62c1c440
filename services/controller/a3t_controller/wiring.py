"""The controller's service wiring: service addresses in, the `Services` the round loop calls out.

Both entry points build their clients here, so that they cannot drift apart: the controller
service (`python -m a3t_controller`, addresses from its settings) and `a3t run` (addresses of the
services it started as local processes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from a3t.errors import FailedPrecondition
from a3t.rpc.client import channel
from a3t_controller.clients import GrpcActRe, GrpcCritic, GrpcEnv, GrpcPolicy, GrpcTrainer
from a3t_controller.patience import Patience
from a3t_controller.ports import Services, TrainerClient, TrainRequest, TrainResult
from a3t_controller.store import Store


class NoTrainer:
    """The trainer of a controller given none (`a3t evaluate` plays episodes, trains nothing):
    a training run asked of it fails, naming why."""

    async def train(
        self, request: TrainRequest, on_progress: Callable[[int, int, str], None]
    ) -> TrainResult:
        raise FailedPrecondition(
            f"training run {request.request_id}: no trainer service was started (a3t evaluate "
            "only evaluates)"
        )


def build_services(
    targets: Mapping[str, str], store: Store, wait_seconds: float, *, ground_actions: bool
) -> Services:
    """gRPC clients of the services at `targets` (service name -> host:port).

    env and policy must have an address; actre and critic without one (absent or empty) are
    None, and the rounds run without them; without a trainer (`a3t evaluate`) any training fails
    (`NoTrainer`). Every client waits up to `wait_seconds` for a service that does not answer,
    naming its address in errors and showing the wait on the store's running experiments
    (a3t_controller.patience). `ground_actions`: the policy maps a non-admissible action to the
    admissible one the model scores highest, on every request that does not say otherwise
    (`PolicyClient.act`'s `ground_actions`).
    """
    addresses = {name: target for name, target in targets.items() if target}
    patience = Patience(
        wait_seconds, lambda _, message: store.set_waiting(message), targets=addresses
    )
    env = GrpcEnv(channel(addresses["env"]), patience)
    policy = GrpcPolicy(
        channel(addresses["policy"]), ground_actions=ground_actions, patience=patience
    )
    actre = GrpcActRe(channel(addresses["actre"]), patience) if "actre" in addresses else None
    critic = (
        GrpcCritic(channel(addresses["critic"]), patience=patience)
        if "critic" in addresses
        else None
    )
    return Services(
        env=env,
        tasks=env,
        policy=policy,
        policy_adapters=policy.adapters,
        actre=actre,
        actre_adapters=actre.adapters if actre else None,
        trainer=_trainer(addresses, patience),
        critic=critic,
    )


def _trainer(addresses: Mapping[str, str], patience: Patience) -> TrainerClient:
    if "trainer" not in addresses:
        return NoTrainer()
    return GrpcTrainer(channel(addresses["trainer"]), patience)
