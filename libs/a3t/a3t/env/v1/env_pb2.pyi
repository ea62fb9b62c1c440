from a3t.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListTasksRequest(_message.Message):
    __slots__ = ("env", "split", "page_size", "page_token")
    ENV_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    env: str
    split: str
    page_size: int
    page_token: str
    def __init__(self, env: _Optional[str] = ..., split: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token", "total_size")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_types_pb2.Task]
    next_page_token: str
    total_size: int
    def __init__(self, tasks: _Optional[_Iterable[_Union[_types_pb2.Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("env", "split", "task_id", "index", "request_id")
    ENV_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    env: str
    split: str
    task_id: str
    index: int
    request_id: str
    def __init__(self, env: _Optional[str] = ..., split: _Optional[str] = ..., task_id: _Optional[str] = ..., index: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session_id", "task", "observation", "admissible_actions", "ttl_seconds")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    ADMISSIBLE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task: _types_pb2.Task
    observation: str
    admissible_actions: _containers.RepeatedScalarFieldContainer[str]
    ttl_seconds: int
    def __init__(self, session_id: _Optional[str] = ..., task: _Optional[_Union[_types_pb2.Task, _Mapping]] = ..., observation: _Optional[str] = ..., admissible_actions: _Optional[_Iterable[str]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class StepRequest(_message.Message):
    __slots__ = ("session_id", "action")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    action: str
    def __init__(self, session_id: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class StepResponse(_message.Message):
    __slots__ = ("observation", "reward", "done", "won", "admissible_actions", "step_index", "admissible")
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    WON_FIELD_NUMBER: _ClassVar[int]
    ADMISSIBLE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    ADMISSIBLE_FIELD_NUMBER: _ClassVar[int]
    observation: str
    reward: float
    done: bool
    won: bool
    admissible_actions: _containers.RepeatedScalarFieldContainer[str]
    step_index: int
    admissible: bool
    def __init__(self, observation: _Optional[str] = ..., reward: _Optional[float] = ..., done: _Optional[bool] = ..., won: _Optional[bool] = ..., admissible_actions: _Optional[_Iterable[str]] = ..., step_index: _Optional[int] = ..., admissible: _Optional[bool] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ("steps_taken", "won")
    STEPS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    WON_FIELD_NUMBER: _ClassVar[int]
    steps_taken: int
    won: bool
    def __init__(self, steps_taken: _Optional[int] = ..., won: _Optional[bool] = ...) -> None: ...

class GenerateTasksRequest(_message.Message):
    __slots__ = ("env", "split", "level", "seed", "count", "task_types")
    ENV_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    env: str
    split: str
    level: int
    seed: int
    count: int
    task_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, env: _Optional[str] = ..., split: _Optional[str] = ..., level: _Optional[int] = ..., seed: _Optional[int] = ..., count: _Optional[int] = ..., task_types: _Optional[_Iterable[str]] = ...) -> None: ...

class GenerateTasksResponse(_message.Message):
    __slots__ = ("split", "total_size")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    split: str
    total_size: int
    def __init__(self, split: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...
