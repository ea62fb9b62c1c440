"""WebShop's records: a product of the catalogue and a goal (what the instruction asks for).

Field names follow the WebShop release where it has one (asin, query, product_category, price
upper bound, goal options), so a release file converts one to one (`release.py`). Both records are
frozen and convert to and from the JSON of a split's files (`splits.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionGroup:
    """One choice on an item page, e.g. size: 8 fl oz | 16 fl oz."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    title: str
    score: int  # 1-5 stars
    body: str


@dataclass(frozen=True)
class Product:
    asin: str  # WebShop's product id, e.g. "B07K3M9QZT"; what a results page shows as a button
    name: str  # the title
    category: str  # one of WebShop's five: beauty, food, fashion, furniture, electronics
    query: str  # the product type (WebShop: the search query the item was scraped with)
    product_category: str  # breadcrumb path, levels separated by " › "
    price: float  # what a purchase costs (the reward's price term compares it)
    price_text: str  # as the pages show it: "$12.99" or "$10.99 to $15.99"
    rating: str  # "4.5", or "N.A." as the release shows it
    attributes: tuple[str, ...]  # e.g. ("sulfate free", "argan oil")
    options: tuple[OptionGroup, ...]
    features: tuple[str, ...]  # the [Features] page's bullet points
    description: str  # the [Description] page
    reviews: tuple[Review, ...]

    def option_group(self, value: str) -> OptionGroup | None:
        """The group offering `value` (case-insensitive), the first one if several do."""
        wanted = value.lower()
        for group in self.options:
            if any(v.lower() == wanted for v in group.values):
                return group
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "asin": self.asin,
            "name": self.name,
            "category": self.category,
            "query": self.query,
            "product_category": self.product_category,
            "price": self.price,
            "price_text": self.price_text,
            "rating": self.rating,
            "attributes": list(self.attributes),
            "options": [{"name": g.name, "values": list(g.values)} for g in self.options],
            "features": list(self.features),
            "description": self.description,
            "reviews": [{"title": r.title, "score": r.score, "body": r.body} for r in self.reviews],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Product:
        return Product(
            asin=str(data["asin"]),
            name=str(data["name"]),
            category=str(data["category"]),
            query=str(data["query"]),
            product_category=str(data["product_category"]),
            price=float(data["price"]),
            price_text=str(data["price_text"]),
            rating=str(data["rating"]),
            attributes=tuple(str(a) for a in data["attributes"]),
            options=tuple(
                OptionGroup(str(g["name"]), tuple(str(v) for v in g["values"]))
                for g in data["options"]
            ),
            features=tuple(str(f) for f in data["features"]),
            description=str(data["description"]),
            reviews=tuple(
                Review(str(r["title"]), int(r["score"]), str(r["body"])) for r in data["reviews"]
            ),
        )


@dataclass(frozen=True)
class Goal:
    """What one task asks for, and the product known to satisfy it (reward 1.0)."""

    asin: str  # the target product
    category: str  # the task type
    query: str  # the target's product type (the reward's type term compares it)
    name: str  # the target's title (the reward's type term compares its words)
    product_category: str  # the target's breadcrumb (the reward's type term)
    instruction: str  # "i need a ..., and price lower than 30.00 dollars"
    attributes: tuple[str, ...]  # each must be an attribute (or text) of the bought product
    options: tuple[str, ...]  # option values to choose on the item page
    price_upper: float  # the bought price must not exceed it (1000000.0: no bound)

    def to_json(self) -> dict[str, Any]:
        return {
            "asin": self.asin,
            "category": self.category,
            "query": self.query,
            "name": self.name,
            "product_category": self.product_category,
            "instruction": self.instruction,
            "attributes": list(self.attributes),
            "options": list(self.options),
            "price_upper": self.price_upper,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Goal:
        return Goal(
            asin=str(data["asin"]),
            category=str(data["category"]),
            query=str(data["query"]),
            name=str(data["name"]),
            product_category=str(data["product_category"]),
            instruction=str(data["instruction"]),
            attributes=tuple(str(a) for a in data["attributes"]),
            options=tuple(str(o) for o in data["options"]),
            price_upper=float(data["price_upper"]),
        )
