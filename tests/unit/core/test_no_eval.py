"""No code in libs/ or services/ runs or unpickles data: eval, exec, compile(..., "exec"),
pickle / marshal loads, YAML's unsafe loaders, torch.load(weights_only=False). Model output and
client requests reach many functions here; none of them may turn text into code or objects.

Each call is found by walking the syntax tree (not by text search, so `model.eval()` and
`re.compile(...)` are not hits) and reported as file:line. A hit is allowed only in ALLOWED,
with the reason it is safe; an entry names its line by a fragment of its code, so edits around
it do not break the list.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

# (path, a fragment of the line) -> why the call is safe.
ALLOWED = {
    ("services/env/a3t_env/pool.py", "pickle.loads(pickle.dumps(exc))"): (
        "round-trips an exception this process just made, to check that it can cross the pipe"
    ),
    ("services/env/a3t_env/pool.py", "pickle.loads(payload)"): (
        "a reply from the pool's own worker process (spawned by it, over its own pipe); no "
        "client or model bytes are pickled, only values the worker built"
    ),
}
_UNPICKLERS = {("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"), ("marshal", "load")}
_UNSAFE_YAML = {"unsafe_load", "full_load", "unsafe_load_all", "full_load_all", "load_all"}
_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "_NoAliasLoader", "BaseLoader")


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _unsafe(call: ast.Call) -> str | None:
    """What is unsafe about `call`, or None."""
    func = call.func
    if isinstance(func, ast.Name):
        if func.id in ("eval", "exec"):
            return f"{func.id}()"
        if func.id == "compile":
            mode = call.args[2] if len(call.args) > 2 else _keyword(call, "mode")
            if not (isinstance(mode, ast.Constant) and mode.value == "eval"):
                return "compile() of code"
        return None
    if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
        return None
    owner, attr = func.value.id, func.attr
    if (owner, attr) in _UNPICKLERS:
        return f"{owner}.{attr}()"
    if owner == "yaml" and attr in _UNSAFE_YAML:
        return f"yaml.{attr}()"
    if owner == "yaml" and attr == "load":
        loader = call.args[1] if len(call.args) > 1 else _keyword(call, "Loader")
        name = ast.unparse(loader) if loader is not None else ""
        if not name.endswith(_SAFE_LOADERS):
            return f"yaml.load() with Loader={name or 'the default'}"
    if owner == "torch" and attr == "load":
        weights_only = _keyword(call, "weights_only")
        if isinstance(weights_only, ast.Constant) and weights_only.value is False:
            return "torch.load(weights_only=False)"
    return None


def _sources() -> list[Path]:
    return sorted(
        p
        for root in ("libs", "services")
        for p in (REPO_ROOT / root).rglob("*.py")
        if not p.name.endswith(("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")) and ".venv" not in p.parts
    )


def _hits() -> list[tuple[str, int, str, str]]:
    found = []
    for path in _sources():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.Call) and (why := _unsafe(node)):
                rel = path.relative_to(REPO_ROOT).as_posix()
                found.append((rel, node.lineno, lines[node.lineno - 1].strip(), why))
    return found


def test_no_code_or_object_loading_from_data():
    hits = _hits()
    bad = [
        f"{path}:{line}: {why}: {code}"
        for path, line, code, why in hits
        if not any(p == path and fragment in code for p, fragment in ALLOWED)
    ]
    assert not bad, "unsafe calls (allow-list one in ALLOWED only with a reason):\n" + "\n".join(
        bad
    )
    # Every allow-list entry still matches a call: a stale entry would hide a new one later.
    for path, fragment in ALLOWED:
        assert any(p == path and fragment in code for p, _, code, _ in hits), (path, fragment)


def test_the_check_finds_what_it_looks_for():
    calls = {
        "eval(text)": "eval()",
        "exec(text)": "exec()",
        "compile(text, 'f', 'exec')": "compile() of code",
        "pickle.loads(data)": "pickle.loads()",
        "yaml.load(text)": "yaml.load() with Loader=the default",
        "yaml.load(text, Loader=yaml.Loader)": "yaml.load() with Loader=yaml.Loader",
        "yaml.unsafe_load(text)": "yaml.unsafe_load()",
        "torch.load(p, weights_only=False)": "torch.load(weights_only=False)",
    }
    for code, why in calls.items():
        assert _unsafe(ast.parse(code, mode="eval").body) == why, code
    for code in (
        "model.eval()",
        "re.compile(r'x')",
        "compile(text, 'f', 'eval')",
        "yaml.safe_load(text)",
        "yaml.load(text, Loader=_NoAliasLoader)",
        "torch.load(p, map_location='cpu')",
    ):
        assert _unsafe(ast.parse(code, mode="eval").body) is None, code
