"""WebShop's prompting: the policy's system prompt and 1-shot exemplar, ActRe's worked answers.

The exemplar is our own short episode in a hand-written shop, in exactly the text the engine
renders for it (tests/unit/envs/webshop/test_prompts.py replays it): a search, a click on the
product that fits (the first result is over the price limit), the size the instruction asks for,
Buy Now. Each step is one assistant turn `think: <thought>` + `<action>` (a3t.inference.chat).
"""

from __future__ import annotations

from a3t.envs.base import ActReExample, EnvPrompts, EpisodeExample

POLICY_SYSTEM = (
    "You are shopping on a website for the product the instruction describes. Each turn, write "
    "one line `think: <reasoning>` and then one line with exactly one action. Actions: "
    "search[query] on the search page, and click[button] for a button shown in [brackets] on "
    "the page: a product id, an option value, < Prev, Next >, Back to Search, Description, "
    "Features, Reviews, Buy Now. Buy a product with every attribute the instruction names, "
    "click each option it asks for first, and keep to its price limit."
)

_SEARCH_PAGE = (
    "WebShop [SEP] Instruction: [SEP] i am looking for a sulfate free, dry hair shampoo in size "
    "16 fl oz, and price lower than 20.00 dollars [SEP] Search"
)
_RESULTS_PAGE = (
    "[Back to Search] [SEP] Page 1 (Total results: 3) [SEP] [B07LMR8TXC] [SEP] Lumera Sulfate "
    "Free Shampoo, Dry Hair, Tea Tree [SEP] $24.99 [SEP] [B09SFD2HQ4] [SEP] Verdell Sulfate Free "
    "Shampoo, Dry Hair, Argan Oil [SEP] $14.99 [SEP] [B08AUR3LLE] [SEP] Aurelle Argan Oil "
    "Shampoo, Color Safe, Sulfate Free [SEP] $12.99"
)
_ITEM_PAGE = (
    "[Back to Search] [SEP] [< Prev] [SEP] size [SEP] [8 fl oz] [SEP] [16 fl oz] [SEP] "
    "[32 fl oz] [SEP] scent [SEP] [coconut] [SEP] [lavender] [SEP] Verdell Sulfate Free "
    "Shampoo, Dry Hair, Argan Oil [SEP] Price: $14.99 [SEP] Rating: 4.5 [SEP] [Description] "
    "[SEP] [Features] [SEP] [Reviews] [SEP] [Buy Now]"
)
_OTHER_ITEM_PAGE = (
    "[Back to Search] [SEP] [< Prev] [SEP] size [SEP] [8 fl oz] [SEP] [16 fl oz] [SEP] "
    "[32 fl oz] [SEP] scent [SEP] [coconut] [SEP] [lavender] [SEP] Aurelle Argan Oil Shampoo, "
    "Color Safe, Sulfate Free [SEP] Price: $12.99 [SEP] Rating: 4.5 [SEP] [Description] [SEP] "
    "[Features] [SEP] [Reviews] [SEP] [Buy Now]"
)
_SEARCH = "search[sulfate free shampoo dry hair]"

EXAMPLE = EpisodeExample(
    observation=_SEARCH_PAGE,
    steps=(
        (
            "I need a sulfate free shampoo for dry hair, 16 fl oz, under 20 dollars. I search "
            "for those words.",
            _SEARCH,
            _RESULTS_PAGE,
        ),
        (
            "B07LMR8TXC costs $24.99, over the limit. B09SFD2HQ4 is sulfate free, for dry hair "
            "and $14.99, so I open it.",
            "click[B09SFD2HQ4]",
            _ITEM_PAGE,
        ),
        (
            "The instruction asks for size 16 fl oz, so I choose it.",
            "click[16 fl oz]",
            "You have clicked 16 fl oz.",
        ),
        (
            "It is sulfate free, for dry hair, 16 fl oz and $14.99, under 20 dollars. I buy it.",
            "click[Buy Now]",
            "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 1.00",
        ),
    ),
)

ACTRE_SYSTEM = (
    "You explain a shopper's decisions on a shopping website. You are shown the instruction, "
    "the pages seen so far, and the action the shopper takes next. Write one short sentence "
    "saying why this action is a sensible next step toward buying what the instruction asks "
    "for. Do not describe its result."
)

# Transcripts as the ActRe prompt renders them: the first page, then "> action" and the page it
# brought, per step. The answers name the instruction's attributes, options and price: they
# become the thoughts the policy is trained on.
ACTRE_EXAMPLES = (
    ActReExample(
        transcript=_SEARCH_PAGE,
        action=_SEARCH,
        rationale="The instruction asks for a sulfate free shampoo for dry hair, so I search "
        "for those words.",
    ),
    ActReExample(
        transcript=f"{_SEARCH_PAGE}\n> {_SEARCH}\n{_RESULTS_PAGE}",
        action="click[B09SFD2HQ4]",
        rationale="B09SFD2HQ4 is a sulfate free shampoo for dry hair at $14.99, under the 20 "
        "dollar limit.",
    ),
    ActReExample(
        transcript=f"{_SEARCH_PAGE}\n> {_SEARCH}\n{_RESULTS_PAGE}\n> click[B08AUR3LLE]\n"
        f"{_OTHER_ITEM_PAGE}",
        action="click[Features]",
        rationale="The title does not say this shampoo is for dry hair, so I check its features.",
    ),
    ActReExample(
        transcript=f"{_SEARCH_PAGE}\n> {_SEARCH}\n{_RESULTS_PAGE}\n> click[B09SFD2HQ4]\n"
        f"{_ITEM_PAGE}",
        action="click[16 fl oz]",
        rationale="This shampoo fits, and the instruction wants the 16 fl oz size.",
    ),
)

PROMPTS = EnvPrompts(
    policy_system=POLICY_SYSTEM,
    examples={"": EXAMPLE},  # one exemplar for every category
    actre_system=ACTRE_SYSTEM,
    actre_examples=ACTRE_EXAMPLES,
    critic_rubric="default",
    # How the engine's answers begin; a small model runs on and writes them itself.
    observation_starts=(
        "observation:",
        "obs:",
        "WebShop [SEP]",
        "Instruction:",
        "[Back to Search]",
        "Invalid action",
        "You have clicked",
        "Thank you for shopping",
    ),
)
