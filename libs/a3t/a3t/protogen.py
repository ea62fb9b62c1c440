"""Generates the Python gRPC stubs from proto/ into libs/a3t (the committed copies).

Run: `make proto` (python -m a3t.protogen [--out DIR]). A test regenerates into a temporary
directory and fails on any difference from the committed files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO_ROOT / "proto"
DEFAULT_OUT = REPO_ROOT / "libs" / "a3t"


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(root.rglob("*.proto"))


def generate(out: Path = DEFAULT_OUT, root: Path = PROTO_ROOT) -> list[Path]:
    """Runs protoc (from grpcio-tools) and returns the files it wrote, sorted."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(root)) for p in proto_files(root)]
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--pyi_out={out}",
        *files,
    ]
    # protoc.main reads argv[0] as the program name and returns protoc's exit status.
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {files}")
    return generated_files(out)


def generated_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*_pb2*.py*") if p.suffix in (".py", ".pyi"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
