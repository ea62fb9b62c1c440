"""LoadAdapter against the artifact root and damaged adapter directories, on the real policy
servicer (the same ServedModel check serves ActRe and the critic): a uri outside the root is
INVALID_ARGUMENT naming adapter.uri; a weights file cut short, a manifest that is not JSON or a
missing file is FAILED_PRECONDITION naming the file, and nothing is loaded."""

from __future__ import annotations

import os
import shutil

import grpc
import pytest
import pytest_asyncio

from a3t.common.v1 import types_pb2 as pb
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.policy.v1 import policy_pb2_grpc
from a3t.rpc.client import channel
from a3t_policy.config import PolicySettings
from a3t_policy.core import PolicyCore
from a3t_policy.server import PolicyServicer
from tests.contract.model_checks import rpc_error, start_model_server


@pytest.fixture
def root(tmp_path, lora_adapters):
    """An artifact root holding a copy of the complete adapter r1, and a directory beside it."""
    root = tmp_path / "artifacts"
    shutil.copytree(lora_adapters["r1"], root / "exp" / "round-0" / "adapter")
    shutil.copytree(lora_adapters["r1"], tmp_path / "outside")
    return root


@pytest_asyncio.fixture
async def stub(tiny_model_dir, root):
    engine = LocalEngine(LocalEngineConfig(model=str(tiny_model_dir), threads=1))
    running, model = await start_model_server(
        "policy",
        engine,
        lambda m: PolicyServicer(PolicyCore(m, PolicySettings())),
        policy_pb2_grpc.add_PolicyServiceServicer_to_server,
        "a3t.policy.v1.PolicyService",
        artifact_root=root,
    )
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield policy_pb2_grpc.PolicyServiceStub(chan)
    await running.server.stop(0)
    await model.close()


async def load(stub, uri: str):
    ref = pb.AdapterRef(name="r1", uri=uri)
    return await stub.LoadAdapter(pb.LoadAdapterRequest(adapter=ref), timeout=60)


async def test_uris_outside_the_artifact_root_are_refused(stub, root, tmp_path):
    inside = root / "exp" / "round-0" / "adapter"
    assert [a.name for a in (await load(stub, f"file://{inside}")).model.adapters] == ["r1"]
    os.symlink(tmp_path / "outside", root / "exp" / "link")
    for uri, says in (
        (f"{root}/exp/../../outside", "contains '..'"),
        (str(tmp_path / "outside"), f"resolves to {tmp_path / 'outside'}, outside the artifact"),
        (str(root / "exp" / "link"), f"resolves to {tmp_path / 'outside'}, outside the artifact"),
    ):
        code, details = await rpc_error(load(stub, uri))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, uri
        assert details.startswith(f"adapter.uri '{uri}'") and says in details, details
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert [a.uri for a in info.adapters] == [str(inside)]  # the refused ones loaded nothing


async def test_damaged_adapter_directories_are_refused_naming_the_file(stub, root):
    adapter = root / "exp" / "round-0" / "adapter"
    weights = adapter / "adapter_model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as f:
        f.truncate(size // 2)
    code, details = await rpc_error(load(stub, str(adapter)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{weights} has {size // 2} bytes" in details and "truncated" in details
    weights.unlink()
    code, details = await rpc_error(load(stub, str(adapter)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and f"{weights} is missing" in details
    (adapter / "manifest.json").write_text('{"base_model": ')
    code, details = await rpc_error(load(stub, str(adapter)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{adapter / 'manifest.json'} is not valid JSON" in details
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert not info.adapters
