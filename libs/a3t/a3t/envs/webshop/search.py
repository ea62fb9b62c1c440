"""The search engine behind `search[...]`: BM25 over each product's text, through bm25s.

Why bm25s: WebShop ranks with BM25 (Lucene through pyserini, which needs Java). bm25s is pure
Python on numpy, actively released, and builds an index of thousands of products in well under a
second, so each split's index is built in memory when first searched (no index files to keep).
Scoring is Lucene's BM25 variant, bm25s's default; tokens are lower-cased words of two or more
characters less English stopwords, for products and queries alike.

Like WebShop, a search returns at most 50 products, best first; we keep only products that share
a word with the query (Lucene returns no others) and break ties by catalogue order, so the same
query always gives the same pages.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from a3t.envs.webshop.catalog import Product

MAX_RESULTS = 50  # WebShop's SEARCH_RETURN_N


def product_text(product: Product) -> str:
    """What a product is found by: WebShop indexes title, description, first bullet and
    options; we add the type, breadcrumb and attributes it shows shoppers."""
    return " ".join(
        (
            product.name,
            product.query,
            product.product_category,
            *product.attributes,
            *(v for group in product.options for v in group.values),
            *product.features[:1],
            product.description,
        )
    )


def _tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


class ProductSearch:
    """A BM25 index over one catalogue (build once per split, share across its games)."""

    def __init__(self, products: Sequence[Product]):
        import bm25s

        self._asins = tuple(p.asin for p in products)
        self._bm25 = bm25s.BM25()
        self._bm25.index(_tokenize([product_text(p) for p in products]), show_progress=False)

    def search(self, query: str, limit: int = MAX_RESULTS) -> tuple[str, ...]:
        """ASINs of the best matches, best first; () when no product shares a word."""
        vocab = self._bm25.vocab_dict
        tokens = [t for t in _tokenize([query])[0] if t and t in vocab]
        if not tokens:
            return ()
        scores = self._bm25.get_scores(tokens).tolist()
        best = heapq.nsmallest(limit, ((-s, i) for i, s in enumerate(scores) if s > 0))
        return tuple(self._asins[i] for _, i in best)
