"""a3t ActRe service: rationales for already chosen actions (act, then reason)."""
