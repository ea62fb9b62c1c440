"""Generator of ALFWorld-compatible games at difficulty levels (no download needed).

    from a3t.envs.alfworld.gen import generate_games
    paths = generate_games(Path("var/envs/alfworld"), "gen_l1", level=1, seed=0, count=30)

or `python -m a3t.envs.alfworld.gen --out var/envs/alfworld --split gen_l1 --level 1 --count 30`.
Games are PDDL problems over alfworld's own domain and grammar, in the real data's layout, so the
env serves them exactly like real games. `LEVELS` holds the difficulty knobs.
"""

from a3t.envs.alfworld.gen.generate import GENERATOR_VERSION, generate_games
from a3t.envs.alfworld.gen.levels import LEVELS, Level
from a3t.envs.alfworld.gen.vocab import TASK_TYPES

__all__ = ["GENERATOR_VERSION", "LEVELS", "TASK_TYPES", "Level", "generate_games"]
