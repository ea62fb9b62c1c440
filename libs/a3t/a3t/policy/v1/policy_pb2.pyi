from a3t.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActRequest(_message.Message):
    __slots__ = ("episode_id", "task", "initial_observation", "history", "admissible_actions", "params", "adapter", "ground_actions")
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INITIAL_OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ADMISSIBLE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    GROUND_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    task: _types_pb2.Task
    initial_observation: str
    history: _containers.RepeatedCompositeFieldContainer[_types_pb2.Step]
    admissible_actions: _containers.RepeatedScalarFieldContainer[str]
    params: _types_pb2.GenerationParams
    adapter: str
    ground_actions: bool
    def __init__(self, episode_id: _Optional[str] = ..., task: _Optional[_Union[_types_pb2.Task, _Mapping]] = ..., initial_observation: _Optional[str] = ..., history: _Optional[_Iterable[_Union[_types_pb2.Step, _Mapping]]] = ..., admissible_actions: _Optional[_Iterable[str]] = ..., params: _Optional[_Union[_types_pb2.GenerationParams, _Mapping]] = ..., adapter: _Optional[str] = ..., ground_actions: _Optional[bool] = ...) -> None: ...

class ActResponse(_message.Message):
    __slots__ = ("thought", "action", "raw_text", "usage", "source", "replaced_action", "adapter")
    THOUGHT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RAW_TEXT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REPLACED_ACTION_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    thought: str
    action: str
    raw_text: str
    usage: _types_pb2.TokenUsage
    source: _types_pb2.StepSource
    replaced_action: str
    adapter: str
    def __init__(self, thought: _Optional[str] = ..., action: _Optional[str] = ..., raw_text: _Optional[str] = ..., usage: _Optional[_Union[_types_pb2.TokenUsage, _Mapping]] = ..., source: _Optional[_Union[_types_pb2.StepSource, str]] = ..., replaced_action: _Optional[str] = ..., adapter: _Optional[str] = ...) -> None: ...

class EndEpisodeRequest(_message.Message):
    __slots__ = ("episode_id",)
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    def __init__(self, episode_id: _Optional[str] = ...) -> None: ...

class EndEpisodeResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...
