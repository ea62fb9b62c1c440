"""WebShop (Yao et al. 2022): buy the product an instruction describes on a text web shop.

Our own engine of WebShop's format (pages.py: the same pages, buttons and search[...] /
click[...] actions; reward.py: the same reward over type, attributes, options and price) over a
catalogue the project generates (generate.py), or over WebShop's release files when a user has
them (release.py). The engine (`engine.py`, which needs bm25s) is imported by the env service
only; the prompting (`prompts.py`) and defaults here are what every other service reads.
"""

from a3t.envs.base import EnvDefaults, EnvSpec
from a3t.envs.webshop.prompts import PROMPTS

SPEC = EnvSpec(
    name="webshop",
    engine="a3t.envs.webshop.engine:WebShopEnvironment",
    prompts=PROMPTS,
    defaults=EnvDefaults(
        max_steps=15,  # the step budget of ReAct's WebShop runs
        explore_attempts=20,  # DESIGN.md, round step 2: at most 20, stop at the first success
        stop_at_first_success=True,
        # Exploration samples clickables, never a random search text (DESIGN.md).
        explore_only_prefixes=("click[",),
        # `click[Back to Search]` (first word `click[Back`) is never sampled: it throws away the
        # page and hands the step back to the policy, whose search costs a full prompt on the
        # CPU (measured: an exploration episode took 20 s, mostly re-searching).
        explore_skip_verbs=("click[Back",),
    ),
    max_action_chars=512,  # a search can quote a long product title
    mean_score=True,  # WebShop papers report the mean reward x 100 beside success
)
