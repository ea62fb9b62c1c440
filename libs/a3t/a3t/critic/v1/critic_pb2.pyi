from a3t.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORE_STATUS_UNSPECIFIED: _ClassVar[ScoreStatus]
    SCORE_STATUS_OK: _ClassVar[ScoreStatus]
    SCORE_STATUS_UNPARSEABLE: _ClassVar[ScoreStatus]
SCORE_STATUS_UNSPECIFIED: ScoreStatus
SCORE_STATUS_OK: ScoreStatus
SCORE_STATUS_UNPARSEABLE: ScoreStatus

class ScoreRequest(_message.Message):
    __slots__ = ("trajectory", "rubric", "params")
    TRAJECTORY_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    trajectory: _types_pb2.Trajectory
    rubric: str
    params: _types_pb2.GenerationParams
    def __init__(self, trajectory: _Optional[_Union[_types_pb2.Trajectory, _Mapping]] = ..., rubric: _Optional[str] = ..., params: _Optional[_Union[_types_pb2.GenerationParams, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("status", "score", "verdict", "reasons", "raw_text", "usage")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RAW_TEXT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    status: ScoreStatus
    score: float
    verdict: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    raw_text: str
    usage: _types_pb2.TokenUsage
    def __init__(self, status: _Optional[_Union[ScoreStatus, str]] = ..., score: _Optional[float] = ..., verdict: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., raw_text: _Optional[str] = ..., usage: _Optional[_Union[_types_pb2.TokenUsage, _Mapping]] = ...) -> None: ...
