"""The generator's vocabulary: WebShop's five categories, product types, attributes, option values,
and the phrases item pages are written with. Our own compact lists (no data file is read).

Constraints the generator and the tests rely on:
- each product type has its own breadcrumb levels below the category, so two types share only
  the category level (the reward's type term then tells them apart);
- within an option group no two values match each other under the reward's option matcher, e.g.
  "8 fl oz" / "16 fl oz" / "32 fl oz" (numbers without a shared digit: "pack of 2" and "pack of 4"
  would count as the same option). Clothing sizes are the exception ("large" matches "x-large"):
  the generator never asks for a value that another value of the same product matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from a3t.envs.webshop.catalog import OptionGroup


@dataclass(frozen=True)
class ProductType:
    query: str  # what shoppers search for; the product's type
    title: str  # as it appears in product names
    article: str  # "a", "an", or "" for plurals and mass nouns: "i need running shoes"
    department: str  # breadcrumb level(s) between the category and the type
    attributes: tuple[str, ...]
    options: tuple[OptionGroup, ...]  # every value the type can offer, per group
    price: tuple[float, float]  # dollars, low and high


@dataclass(frozen=True)
class Category:
    name: str  # task type: beauty, food, fashion, furniture, electronics
    title: str  # the breadcrumb's first level
    brands: tuple[str, ...]
    attributes: tuple[str, ...]  # shared by every type of the category
    types: tuple[ProductType, ...]


def _g(name: str, values: str) -> OptionGroup:
    return OptionGroup(name, tuple(v.strip() for v in values.split("|")))


def _t(
    query: str,
    title: str,
    article: str,
    department: str,
    attributes: str,
    options: tuple[OptionGroup, ...],
    price: tuple[float, float],
) -> ProductType:
    attrs = tuple(a.strip() for a in attributes.split("|"))
    return ProductType(query, title, article, department, attrs, options, price)


_SHOE_SIZES = _g("size", "6 | 7 | 8 | 9 | 10 | 11 | 12")
_CLOTHING_SIZES = _g("size", "x-small | small | medium | large | x-large | xx-large")
_CLOTHING_COLOURS = _g("color", "black | white | navy | gray | olive | burgundy | pink")

# fmt: off
CATEGORIES: dict[str, Category] = {
    "beauty": Category(
        "beauty",
        "Beauty & Personal Care",
        ("Lumera", "Verdell", "Aurelle", "Nuvia", "Solenne", "Kindra"),
        ("cruelty free", "paraben free", "travel size", "natural ingredients", "long lasting"),
        (
            _t(
                "shampoo", "Shampoo", "a", "Hair Care › Shampoos",
                "sulfate free | argan oil | dry hair | hair growth | color safe | tea tree",
                (_g("size", "8 fl oz | 16 fl oz | 32 fl oz"),
                 _g("scent", "coconut | lavender | citrus | unscented")),
                (6, 28),
            ),
            _t(
                "face moisturizer", "Face Moisturizer", "a", "Skin Care › Face Moisturizers",
                "sensitive skin | hyaluronic acid | oil free | spf 30 | anti aging | "
                "fragrance free",
                (_g("size", "50 ml | 100 ml"),),
                (9, 45),
            ),
            _t(
                "lipstick", "Lipstick", "a", "Makeup › Lipstick",
                "matte finish | highly pigmented | vegan formula | smudge proof | moisturizing",
                (_g("color", "nude | red | pink | berry | coral | plum"),),
                (5, 24),
            ),
            _t(
                "deodorant", "Deodorant", "a", "Personal Care › Deodorants",
                "aluminum free | baking soda free | sensitive skin | 48 hour protection | "
                "plant based",
                (_g("scent", "lavender | citrus | unscented | cedarwood"),),
                (5, 18),
            ),
            _t(
                "electric toothbrush", "Electric Toothbrush", "an",
                "Oral Care › Electric Toothbrushes",
                "teeth whitening | soft bristles | rechargeable battery | travel case | "
                "2 minute timer",
                (_g("color", "black | white | pink | blue"),),
                (20, 90),
            ),
            _t(
                "nail polish", "Nail Polish", "", "Nail Care › Nail Polish",
                "quick dry | chip resistant | gel effect | non toxic | glossy finish",
                (_g("color", "red | nude | coral | lavender | black"),),
                (4, 15),
            ),
        ),
    ),
    "food": Category(
        "food",
        "Grocery & Gourmet Food",
        ("Harvest Lane", "Oakridge Farms", "Sunny Acre", "Greenvale", "Copper Kettle"),
        ("gluten free", "non gmo", "usda organic", "kosher certified"),
        (
            _t(
                "ground coffee", "Ground Coffee", "", "Coffee › Ground Coffee",
                "medium roast | small batch | fair trade | single origin | low acid",
                (_g("flavor", "original | hazelnut | vanilla | mocha"),
                 _g("size", "8 ounce | 12 ounce | 34 ounce")),
                (7, 25),
            ),
            _t(
                "protein bars", "Protein Bars", "", "Snack Bars › Protein Bars",
                "high protein | low sugar | whey protein | high fiber | keto friendly",
                (_g("flavor", "chocolate chip | peanut butter | salted caramel | cookie dough"),
                 _g("size", "6 pack | 12 pack")),
                (12, 35),
            ),
            _t(
                "beef jerky", "Beef Jerky", "", "Jerky & Dried Meats › Beef Jerky",
                "grass fed | low fat | no msg | hickory smoked | individually wrapped",
                (_g("flavor", "original | teriyaki | peppered | sweet and spicy"),
                 _g("size", "3 ounce | 10 ounce")),
                (8, 30),
            ),
            _t(
                "herbal tea", "Herbal Tea", "", "Tea › Herbal Tea",
                "caffeine free | loose leaf | calming blend | antioxidant rich | compostable",
                (_g("flavor", "chamomile | peppermint | ginger | hibiscus"),),
                (4, 18),
            ),
            _t(
                "chocolate bar", "Chocolate Bar", "a", "Chocolate › Chocolate Bars",
                "dark chocolate | high cacao | dairy free | gift box | fair trade",
                (_g("flavor", "sea salt | almond | orange | raspberry"),),
                (5, 30),
            ),
            _t(
                "olive oil", "Olive Oil", "", "Cooking Oils › Olive Oil",
                "extra virgin | cold pressed | glass bottle | high polyphenol | single origin",
                (_g("size", "250 ml | 500 ml | 1 liter"),),
                (9, 40),
            ),
        ),
    ),
    "fashion": Category(
        "fashion",
        "Clothing, Shoes & Jewelry",
        ("Northpeak", "Urban Thread", "Corvo", "Lioneye", "Marlow & Finch"),
        ("machine wash", "hand wash", "daily wear"),
        (
            _t(
                "running shoes", "Running Shoes", "", "Athletic Shoes › Running Shoes",
                "non slip | rubber sole | breathable mesh | arch support | lightweight",
                (_SHOE_SIZES, _g("color", "black | white | gray | navy | red")),
                (35, 120),
            ),
            _t(
                "t-shirt", "T-Shirt", "a", "Tops & Tees › T-Shirts",
                "short sleeve | crew neck | slim fit | moisture wicking | tagless",
                (_CLOTHING_SIZES, _CLOTHING_COLOURS),
                (10, 30),
            ),
            _t(
                "yoga pants", "Yoga Pants", "", "Activewear › Yoga Pants",
                "high waist | tummy control | four way stretch | side pockets | squat proof",
                (_CLOTHING_SIZES, _g("color", "black | navy | gray | olive | purple")),
                (18, 45),
            ),
            _t(
                "hoodie", "Hoodie", "a", "Sweatshirts & Hoodies › Pullover Hoodies",
                "long sleeve | kangaroo pocket | drawstring closure | fleece lined | relaxed fit",
                (_CLOTHING_SIZES, _CLOTHING_COLOURS),
                (25, 60),
            ),
            _t(
                "jeans", "Jeans", "", "Denim › Jeans",
                "straight leg | button closure | stretch denim | zip fly | high rise",
                (_g("size", "28 | 30 | 32 | 34 | 36"), _g("color", "black | blue | gray | khaki")),
                (30, 80),
            ),
            _t(
                "sandals", "Sandals", "", "Sandals › Flat Sandals",
                "open toe | ankle strap | cushioned footbed | flat sole | arch support",
                (_g("size", "6 | 7 | 8 | 9 | 10"), _g("color", "black | brown | tan | white")),
                (20, 60),
            ),
        ),
    ),
    "furniture": Category(
        "furniture",
        "Home & Kitchen",
        ("Homfield", "Oakwell", "Nestora", "Linden & Loft", "Barrow House"),
        ("easy assembly", "living room", "space saving", "home office"),
        (
            _t(
                "office chair", "Office Chair", "an", "Home Office Furniture › Office Chairs",
                "lumbar support | adjustable height | mesh back | padded armrests | swivel base",
                (_g("color", "black | gray | white | blue"),),
                (60, 250),
            ),
            _t(
                "bookshelf", "Bookshelf", "a", "Bookcases & Shelving › Bookshelves",
                "5 tier | solid wood | metal frame | industrial style | wall anchor",
                (_g("color", "walnut | oak | black | white"),),
                (40, 180),
            ),
            _t(
                "coffee table", "Coffee Table", "a", "Living Room Tables › Coffee Tables",
                "lift top | hidden storage | tempered glass | mid century | round top",
                (_g("color", "walnut | black | white | gray"),),
                (50, 220),
            ),
            _t(
                "bed frame", "Bed Frame", "a", "Bedroom Furniture › Bed Frames",
                "no box spring needed | under bed storage | upholstered headboard | wood slats "
                "| noise free",
                (_g("size", "twin | full | queen | king"), _g("color", "black | gray | beige")),
                (90, 400),
            ),
            _t(
                "bar stools", "Bar Stools", "", "Kitchen & Dining Furniture › Bar Stools",
                "swivel seat | counter height | faux leather | footrest | set of 2",
                (_g("color", "black | brown | gray | white"),),
                (40, 160),
            ),
            _t(
                "tv stand", "TV Stand", "a", "TV & Media Furniture › TV Stands",
                "cable management | open storage | led lights | adjustable shelves | "
                "engineered wood",
                (_g("color", "black | white | walnut | oak"),),
                (60, 250),
            ),
        ),
    ),
    "electronics": Category(
        "electronics",
        "Electronics",
        ("Voltik", "Zentra", "Sonixa", "Auralink", "Kabelo"),
        ("compact design", "one year warranty"),
        (
            _t(
                "wireless earbuds", "Wireless Earbuds", "", "Headphones › Earbuds",
                "noise cancelling | charging case | water resistant | touch control | "
                "long battery life",
                (_g("color", "black | white | blue"),),
                (20, 120),
            ),
            _t(
                "phone case", "Phone Case", "a", "Phone Cases & Covers › Phone Cases",
                "shockproof | wireless charging compatible | raised edges | clear back | kickstand",
                (_g("model", "iphone 15 | galaxy s24 | pixel 8"),
                 _g("color", "black | clear | pink | blue")),
                (8, 30),
            ),
            _t(
                "usb c cable", "USB C Cable", "a", "Cables & Adapters › USB Cables",
                "fast charging | braided nylon | data transfer | 100w power delivery | "
                "reinforced connector",
                (_g("length", "3 ft | 6 ft | 10 ft"), _g("color", "black | white")),
                (6, 20),
            ),
            _t(
                "bluetooth speaker", "Bluetooth Speaker", "a",
                "Portable Audio › Bluetooth Speakers",
                "waterproof | deep bass | built in microphone | stereo pairing | 20 hour playtime",
                (_g("color", "black | blue | red | gray"),),
                (25, 130),
            ),
            _t(
                "power bank", "Power Bank", "a", "Chargers & Power › Power Banks",
                "led display | dual usb | airline safe | quick charge | slim profile",
                (_g("color", "black | white"),),
                (15, 60),
            ),
            _t(
                "wireless mouse", "Wireless Mouse", "a", "Keyboards & Mice › Wireless Mice",
                "silent click | ergonomic design | usb receiver | adjustable dpi | "
                "rechargeable battery",
                (_g("color", "black | gray | white | pink"),),
                (10, 45),
            ),
        ),
    ),
}
# fmt: on

# Item-page text. Neutral on purpose: a phrase that contained an attribute would give every
# product that attribute (the reward also searches the title, features and description).
FEATURE_ENDINGS = (
    "checked by hand before it ships",
    "a detail our customers asked for",
    "designed in our own studio",
    "covered by our 30 day return policy",
    "made to the same standard in every batch",
)
DESCRIPTION_ENDINGS = (
    "Every order ships in recyclable packaging.",
    "Questions? Our support team answers within a day.",
    "Store in a cool, dry place.",
    "Pictures may differ slightly from the product.",
)
REVIEWS = (
    ("Just right", 5, "Arrived quickly and matches the listing."),
    ("Good value", 4, "Does what it says. I would order it again."),
    ("Okay", 3, "Fine overall, though delivery took a while."),
    ("Love it", 5, "Bought two, one for my sister. We both like it."),
    ("Solid", 4, "Works as described for the price."),
    ("Not for me", 2, "Nothing wrong with it, it just was not what I pictured."),
)
# Openings of generated instructions; {item} is the wanted product (with its attributes).
INSTRUCTION_OPENINGS = ("i need", "i am looking for", "find me", "i want to buy", "can you get me")
