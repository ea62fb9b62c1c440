"""Imports WebShop's release files (when a user has them) as a split of ours.

WebShop's setup.sh downloads them into its `data/` folder; point `release_dir` there:

    items_shuffle_1000.json   the products (or items_shuffle.json, all 1.18M): a list of
                              {asin, name, full_description, small_description, pricing,
                               customization_options, query, category, product_category, ...}
    items_ins_v2_1000.json    per ASIN {attributes: [...], ...} (or items_ins_v2.json)
    items_human_ins.json      per ASIN a list of {instruction, instruction_attributes,
                              instruction_options, ...}: the human goals ReAct and A3T use

    import_release(Path("WebShop/data"), Path("var/envs/webshop"), "release")

or `python -m a3t.envs.webshop.release WebShop/data var/envs/webshop release`.

Conversion follows WebShop's loader: ASINs that are "nan" or longer than 10 characters and
repeats are skipped; option names and values are lower-cased with "/" shown as " | "; bullet
points are the features; a product without pricing costs $100.0. Goals are the human
instructions that name at least one attribute, in file order, each with WebShop's price bound
rule. Where WebShop draws at random without a seed (the price within a "$a - $b" range, the
bound), we draw from `seed` and the ASIN, so an import is reproducible. Products without
attributes get none (WebShop's placeholder "DUMMY_ATTR" matches no goal attribute either).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from a3t.envs.base import check_split_name
from a3t.envs.webshop import splits
from a3t.envs.webshop.catalog import Goal, OptionGroup, Product
from a3t.envs.webshop.generate import NO_PRICE_BOUND, price_upper
from a3t.errors import A3tError, FailedPrecondition, NotFound

PRODUCT_FILES = ("items_shuffle_1000.json", "items_shuffle.json")
ATTRIBUTE_FILES = ("items_ins_v2_1000.json", "items_ins_v2.json")
HUMAN_GOALS_FILE = "items_human_ins.json"
_NUMBER = re.compile(r"[^\d.]")


def _find(release_dir: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (release_dir / name).is_file():
            return release_dir / name
    raise NotFound(
        f"none of {list(names)} is in {release_dir}; point release_dir at WebShop's data/ folder "
        "(its setup.sh downloads them)"
    )


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise FailedPrecondition(f"{path} is not readable JSON: {e}") from e


def _pricing(text: Any) -> tuple[list[float], str]:
    """WebShop's parse of "$12.99" / "$10.99 - $15.99": the numbers and the shown price."""
    if not text:
        return [100.0], "$100.0"
    values = [float(_NUMBER.sub("", part)) for part in str(text).split("$")[1:]]
    if len(values) == 1:
        return values, f"${values[0]}"
    return values[:2], f"${values[0]} to ${values[1]}"


def _options(raw: Any) -> tuple[OptionGroup, ...]:
    groups = []
    for name, contents in (raw or {}).items():
        if contents is None:
            continue
        values = tuple(str(c["value"]).strip().replace("/", " | ").lower() for c in contents)
        groups.append(OptionGroup(name.lower(), values))
    return tuple(groups)


def convert_product(raw: dict[str, Any], attributes: dict[str, Any], seed: int) -> Product:
    asin = str(raw["asin"])
    pricing, price_text = _pricing(raw.get("pricing"))
    price = pricing[0]
    if len(pricing) == 2:  # WebShop: uniform within the range
        price = round(random.Random(f"{seed}:{asin}:price").uniform(*pricing), 2)
    bullets = raw.get("small_description") or []
    return Product(
        asin=asin,
        name=str(raw["name"]),
        category=str(raw["category"]),
        query=str(raw["query"]).lower().strip(),
        product_category=str(raw["product_category"]),
        price=price,
        price_text=price_text,
        rating="N.A.",
        attributes=tuple(attributes.get(asin, {}).get("attributes") or ()),
        options=_options(raw.get("customization_options")),
        features=tuple(bullets) if isinstance(bullets, list) else (str(bullets),),
        description=str(raw.get("full_description") or ""),
        reviews=(),
    )


def convert_goals(product: Product, instructions: list[dict[str, Any]], seed: int) -> list[Goal]:
    goals = []
    for i, ins in enumerate(instructions):
        attributes = tuple(ins.get("instruction_attributes") or ())
        if not attributes:
            continue  # WebShop skips these too
        bound = price_upper(random.Random(f"{seed}:{product.asin}:{i}"), product.price)
        price_text = f", and price lower than {bound:.2f} dollars" if bound < NO_PRICE_BOUND else ""
        goals.append(
            Goal(
                asin=product.asin,
                category=product.category,
                query=product.query,
                name=product.name,
                product_category=product.product_category,
                instruction=str(ins["instruction"]).strip(".") + price_text,
                attributes=attributes,
                options=tuple(ins.get("instruction_options") or ()),
                price_upper=bound,
            )
        )
    return goals


def import_release(release_dir: Path, data_root: Path, split: str, seed: int = 0) -> int:
    """Writes the release as split `split` of `data_root` and returns its number of goals.
    Importing the same files again is a no-op; a split with other content is refused."""
    check_split_name(split)
    release_dir = Path(release_dir)
    product_file = _find(release_dir, PRODUCT_FILES)
    raw_products = _load(product_file)
    attributes = _load(_find(release_dir, ATTRIBUTE_FILES))
    human = _load(_find(release_dir, (HUMAN_GOALS_FILE,)))
    products: list[Product] = []
    goals: list[Goal] = []
    seen: set[str] = set()
    try:
        for raw in raw_products:
            asin = str(raw["asin"])
            if asin == "nan" or len(asin) > 10 or asin in seen:
                continue
            seen.add(asin)
            product = convert_product(raw, attributes, seed)
            products.append(product)
            goals += convert_goals(product, human.get(asin, []), seed)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise FailedPrecondition(
            f"{product_file} or its companions do not have WebShop's format "
            f"({type(e).__name__}: {e})"
        ) from e
    if not goals:
        raise FailedPrecondition(
            f"no goal in {release_dir / HUMAN_GOALS_FILE} names a product of {product_file} "
            "with at least one attribute; nothing to import"
        )
    source = {"release": product_file.name, "seed": seed}
    splits.write(Path(data_root), split, *splits.render(products, goals, source))
    return len(goals)


def main(argv: list[str] | None = None) -> int:
    """`python -m a3t.envs.webshop.release RELEASE_DIR DATA_ROOT SPLIT`: import, print the size."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("release_dir", type=Path, help="WebShop's data/ folder")
    parser.add_argument("data_root", type=Path, help="the env service's webshop root")
    parser.add_argument("split", help="name of the split to write, e.g. release")
    args = parser.parse_args(argv)
    try:
        count = import_release(args.release_dir, args.data_root, args.split)
    except A3tError as e:
        print(f"import failed: {e}", file=sys.stderr)
        return 2
    print(f"split {args.split}: {count} goals under {args.data_root / args.split}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
