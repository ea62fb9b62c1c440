"""The round's phases map to the proto's RoundPhase by name, not by position."""

from a3t.controller.v1 import controller_pb2 as pb
from a3t_controller.server import _PHASES


def test_every_phase_maps_to_the_round_phase_of_its_name():
    assert {name: pb.RoundPhase.Name(value) for name, value in _PHASES.items()} == {
        "attempt": "ROUND_PHASE_ATTEMPT",
        "explore": "ROUND_PHASE_EXPLORE",
        "select": "ROUND_PHASE_SELECT",
        "compose": "ROUND_PHASE_COMPOSE",
        "train": "ROUND_PHASE_TRAIN",
        "evaluate": "ROUND_PHASE_EVALUATE",
        "promote": "ROUND_PHASE_PROMOTE",
        "done": "ROUND_PHASE_DONE",
    }
