"""Hand-written shops for the WebShop tests: the prompt exemplar's shampoo shop and a few helpers.

The 1-shot exemplar in a3t.envs.webshop.prompts is this shop played by hand; test_prompts checks
that the engine renders exactly its text.
"""

from __future__ import annotations

from a3t.envs.webshop.catalog import Goal, OptionGroup, Product, Review
from a3t.envs.webshop.pages import WebShopGame
from a3t.envs.webshop.search import ProductSearch

BEAUTY = "Beauty & Personal Care › Hair Care › Shampoos"


def product(
    asin: str,
    name: str,
    price: float,
    attributes: tuple[str, ...],
    options: tuple[OptionGroup, ...] = (),
    *,
    query: str = "shampoo",
    product_category: str = BEAUTY,
    category: str = "beauty",
) -> Product:
    return Product(
        asin=asin,
        name=name,
        category=category,
        query=query,
        product_category=product_category,
        price=price,
        price_text=f"${price:.2f}",
        rating="4.5",
        attributes=attributes,
        options=options,
        features=tuple(f"{a.title()}: checked by hand before it ships" for a in attributes),
        description=f"{name}. Highlights: {', '.join(attributes)}.",
        reviews=(
            Review("Just right", 5, "Arrived quickly and matches the listing."),
            Review("Solid", 4, "Works as described for the price."),
        ),
    )


SIZES = OptionGroup("size", ("8 fl oz", "16 fl oz", "32 fl oz"))
SCENTS = OptionGroup("scent", ("coconut", "lavender"))

SHAMPOOS = (
    product(
        "B09SFD2HQ4",
        "Verdell Sulfate Free Shampoo, Dry Hair, Argan Oil",
        14.99,
        ("sulfate free", "dry hair", "argan oil"),
        (SIZES, SCENTS),
    ),
    product(
        "B07LMR8TXC",
        "Lumera Sulfate Free Shampoo, Dry Hair, Tea Tree",
        24.99,
        ("sulfate free", "dry hair", "tea tree"),
        (SIZES,),
    ),
    product(
        "B08AUR3LLE",
        "Aurelle Argan Oil Shampoo, Color Safe, Sulfate Free",
        12.99,
        ("argan oil", "color safe", "sulfate free"),
        (SIZES, SCENTS),
    ),
)

SHAMPOO_GOAL = Goal(
    asin="B09SFD2HQ4",
    category="beauty",
    query="shampoo",
    name=SHAMPOOS[0].name,
    product_category=BEAUTY,
    instruction=(
        "i am looking for a sulfate free, dry hair shampoo in size 16 fl oz, and price lower "
        "than 20.00 dollars"
    ),
    attributes=("sulfate free", "dry hair"),
    options=("16 fl oz",),
    price_upper=20.0,
)


def game(products: tuple[Product, ...] = SHAMPOOS, goal: Goal = SHAMPOO_GOAL) -> WebShopGame:
    index = ProductSearch(products)
    return WebShopGame(goal, {p.asin: p for p in products}, index.search)
