from a3t.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExplainRequest(_message.Message):
    __slots__ = ("task", "initial_observation", "history", "action", "params", "adapter", "episode_id")
    TASK_FIELD_NUMBER: _ClassVar[int]
    INITIAL_OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    task: _types_pb2.Task
    initial_observation: str
    history: _containers.RepeatedCompositeFieldContainer[_types_pb2.Step]
    action: str
    params: _types_pb2.GenerationParams
    adapter: str
    episode_id: str
    def __init__(self, task: _Optional[_Union[_types_pb2.Task, _Mapping]] = ..., initial_observation: _Optional[str] = ..., history: _Optional[_Iterable[_Union[_types_pb2.Step, _Mapping]]] = ..., action: _Optional[str] = ..., params: _Optional[_Union[_types_pb2.GenerationParams, _Mapping]] = ..., adapter: _Optional[str] = ..., episode_id: _Optional[str] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("rationale", "raw_text", "usage")
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    RAW_TEXT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    rationale: str
    raw_text: str
    usage: _types_pb2.TokenUsage
    def __init__(self, rationale: _Optional[str] = ..., raw_text: _Optional[str] = ..., usage: _Optional[_Union[_types_pb2.TokenUsage, _Mapping]] = ...) -> None: ...

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
