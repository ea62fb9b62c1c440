"""Inference engines: the `Engine` protocol, the shared ReAct chat format, the local engine.

Importing this package does not import torch or transformers; `LocalEngine` loads them when one
is constructed.
"""

from a3t.inference.base import (
    BASE_ADAPTER,
    AdapterInfo,
    ChatMessage,
    Engine,
    EngineInfo,
    Generation,
    GenerationParams,
    read_adapter_manifest,
    write_adapter_manifest,
)
from a3t.inference.chat import format_step, parse_step, react_messages, render_with_spans
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.inference.models import SMOLLM2, load_model

__all__ = [
    "BASE_ADAPTER",
    "SMOLLM2",
    "AdapterInfo",
    "ChatMessage",
    "Engine",
    "EngineInfo",
    "Generation",
    "GenerationParams",
    "LocalEngine",
    "LocalEngineConfig",
    "format_step",
    "load_model",
    "parse_step",
    "react_messages",
    "read_adapter_manifest",
    "render_with_spans",
    "write_adapter_manifest",
]
