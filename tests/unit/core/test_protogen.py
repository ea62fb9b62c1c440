"""The committed stubs must be exactly what protoc generates from proto/."""

from a3t.protogen import DEFAULT_OUT, generate, generated_files


def test_committed_stubs_match_protos(tmp_path):
    fresh = generate(tmp_path)
    committed = generated_files(DEFAULT_OUT)
    assert [p.relative_to(tmp_path) for p in fresh] == [
        p.relative_to(DEFAULT_OUT) for p in committed
    ]
    stale = [
        str(c.relative_to(DEFAULT_OUT))
        for f, c in zip(fresh, committed, strict=True)
        if f.read_bytes() != c.read_bytes()
    ]
    assert stale == [], f"run `make proto`: stale generated files {stale}"
