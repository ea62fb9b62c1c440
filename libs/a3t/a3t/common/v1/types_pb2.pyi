from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StepSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_SOURCE_UNSPECIFIED: _ClassVar[StepSource]
    STEP_SOURCE_POLICY: _ClassVar[StepSource]
    STEP_SOURCE_SAMPLED: _ClassVar[StepSource]
    STEP_SOURCE_FORCED: _ClassVar[StepSource]
    STEP_SOURCE_GROUNDED: _ClassVar[StepSource]
    STEP_SOURCE_TEMPERATURE: _ClassVar[StepSource]
STEP_SOURCE_UNSPECIFIED: StepSource
STEP_SOURCE_POLICY: StepSource
STEP_SOURCE_SAMPLED: StepSource
STEP_SOURCE_FORCED: StepSource
STEP_SOURCE_GROUNDED: StepSource
STEP_SOURCE_TEMPERATURE: StepSource

class Task(_message.Message):
    __slots__ = ("env", "task_id", "split", "task_type", "instruction", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENV_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    env: str
    task_id: str
    split: str
    task_type: str
    instruction: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, env: _Optional[str] = ..., task_id: _Optional[str] = ..., split: _Optional[str] = ..., task_type: _Optional[str] = ..., instruction: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("prompt_tokens", "cached_prompt_tokens", "completion_tokens")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., cached_prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("thought", "action", "observation", "reward", "done", "source", "raw_text", "replaced_action", "admissible", "usage")
    THOUGHT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RAW_TEXT_FIELD_NUMBER: _ClassVar[int]
    REPLACED_ACTION_FIELD_NUMBER: _ClassVar[int]
    ADMISSIBLE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    thought: str
    action: str
    observation: str
    reward: float
    done: bool
    source: StepSource
    raw_text: str
    replaced_action: str
    admissible: bool
    usage: TokenUsage
    def __init__(self, thought: _Optional[str] = ..., action: _Optional[str] = ..., observation: _Optional[str] = ..., reward: _Optional[float] = ..., done: _Optional[bool] = ..., source: _Optional[_Union[StepSource, str]] = ..., raw_text: _Optional[str] = ..., replaced_action: _Optional[str] = ..., admissible: _Optional[bool] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ...) -> None: ...

class Trajectory(_message.Message):
    __slots__ = ("trajectory_id", "task", "initial_observation", "steps", "won", "reward", "policy_adapter", "round", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRAJECTORY_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INITIAL_OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WON_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    POLICY_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    trajectory_id: str
    task: Task
    initial_observation: str
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    won: bool
    reward: float
    policy_adapter: str
    round: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, trajectory_id: _Optional[str] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., initial_observation: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., won: _Optional[bool] = ..., reward: _Optional[float] = ..., policy_adapter: _Optional[str] = ..., round: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AdapterRef(_message.Message):
    __slots__ = ("name", "uri", "version", "base_model")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    uri: str
    version: int
    base_model: str
    def __init__(self, name: _Optional[str] = ..., uri: _Optional[str] = ..., version: _Optional[int] = ..., base_model: _Optional[str] = ...) -> None: ...

class GenerationParams(_message.Message):
    __slots__ = ("max_new_tokens", "temperature", "top_p", "seed", "stop")
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, max_new_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("base_model", "engine", "device", "dtype", "adapters", "active_adapter", "max_context_tokens")
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTEXT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    base_model: str
    engine: str
    device: str
    dtype: str
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterRef]
    active_adapter: str
    max_context_tokens: int
    def __init__(self, base_model: _Optional[str] = ..., engine: _Optional[str] = ..., device: _Optional[str] = ..., dtype: _Optional[str] = ..., adapters: _Optional[_Iterable[_Union[AdapterRef, _Mapping]]] = ..., active_adapter: _Optional[str] = ..., max_context_tokens: _Optional[int] = ...) -> None: ...

class LoadAdapterRequest(_message.Message):
    __slots__ = ("adapter", "activate")
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    adapter: AdapterRef
    activate: bool
    def __init__(self, adapter: _Optional[_Union[AdapterRef, _Mapping]] = ..., activate: _Optional[bool] = ...) -> None: ...

class LoadAdapterResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class UnloadAdapterRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnloadAdapterResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
