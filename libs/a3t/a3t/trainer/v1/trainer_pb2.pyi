from a3t.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainingRunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_RUN_STATE_UNSPECIFIED: _ClassVar[TrainingRunState]
    TRAINING_RUN_STATE_QUEUED: _ClassVar[TrainingRunState]
    TRAINING_RUN_STATE_RUNNING: _ClassVar[TrainingRunState]
    TRAINING_RUN_STATE_SUCCEEDED: _ClassVar[TrainingRunState]
    TRAINING_RUN_STATE_FAILED: _ClassVar[TrainingRunState]
    TRAINING_RUN_STATE_CANCELLED: _ClassVar[TrainingRunState]
TRAINING_RUN_STATE_UNSPECIFIED: TrainingRunState
TRAINING_RUN_STATE_QUEUED: TrainingRunState
TRAINING_RUN_STATE_RUNNING: TrainingRunState
TRAINING_RUN_STATE_SUCCEEDED: TrainingRunState
TRAINING_RUN_STATE_FAILED: TrainingRunState
TRAINING_RUN_STATE_CANCELLED: TrainingRunState

class TrainingSpec(_message.Message):
    __slots__ = ("base_model", "dataset_uri", "output_uri", "adapter_name", "adapter_version", "init_adapter_uri", "epochs", "learning_rate", "lora_rank", "lora_alpha", "lora_target_modules", "quantize_4bit", "include_observation_tokens", "max_seq_tokens", "negative_prob_floor", "average_last_epochs", "seed", "round", "system_prompt")
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_URI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_URI_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_NAME_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    INIT_ADAPTER_URI_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    LORA_RANK_FIELD_NUMBER: _ClassVar[int]
    LORA_ALPHA_FIELD_NUMBER: _ClassVar[int]
    LORA_TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_4BIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OBSERVATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROB_FLOOR_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_LAST_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    base_model: str
    dataset_uri: str
    output_uri: str
    adapter_name: str
    adapter_version: int
    init_adapter_uri: str
    epochs: int
    learning_rate: float
    lora_rank: int
    lora_alpha: int
    lora_target_modules: _containers.RepeatedScalarFieldContainer[str]
    quantize_4bit: bool
    include_observation_tokens: bool
    max_seq_tokens: int
    negative_prob_floor: float
    average_last_epochs: int
    seed: int
    round: int
    system_prompt: str
    def __init__(self, base_model: _Optional[str] = ..., dataset_uri: _Optional[str] = ..., output_uri: _Optional[str] = ..., adapter_name: _Optional[str] = ..., adapter_version: _Optional[int] = ..., init_adapter_uri: _Optional[str] = ..., epochs: _Optional[int] = ..., learning_rate: _Optional[float] = ..., lora_rank: _Optional[int] = ..., lora_alpha: _Optional[int] = ..., lora_target_modules: _Optional[_Iterable[str]] = ..., quantize_4bit: _Optional[bool] = ..., include_observation_tokens: _Optional[bool] = ..., max_seq_tokens: _Optional[int] = ..., negative_prob_floor: _Optional[float] = ..., average_last_epochs: _Optional[int] = ..., seed: _Optional[int] = ..., round: _Optional[int] = ..., system_prompt: _Optional[str] = ...) -> None: ...

class TrainingProgress(_message.Message):
    __slots__ = ("step", "total_steps", "epoch", "loss", "loss_positive", "loss_negative", "tokens_per_second", "eta_seconds")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LOSS_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    LOSS_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    epoch: int
    loss: float
    loss_positive: float
    loss_negative: float
    tokens_per_second: float
    eta_seconds: float
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ..., epoch: _Optional[int] = ..., loss: _Optional[float] = ..., loss_positive: _Optional[float] = ..., loss_negative: _Optional[float] = ..., tokens_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class TrainingRun(_message.Message):
    __slots__ = ("run_id", "request_id", "spec", "state", "progress", "output", "error_message", "create_time_seconds", "end_time_seconds")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    request_id: str
    spec: TrainingSpec
    state: TrainingRunState
    progress: TrainingProgress
    output: _types_pb2.AdapterRef
    error_message: str
    create_time_seconds: float
    end_time_seconds: float
    def __init__(self, run_id: _Optional[str] = ..., request_id: _Optional[str] = ..., spec: _Optional[_Union[TrainingSpec, _Mapping]] = ..., state: _Optional[_Union[TrainingRunState, str]] = ..., progress: _Optional[_Union[TrainingProgress, _Mapping]] = ..., output: _Optional[_Union[_types_pb2.AdapterRef, _Mapping]] = ..., error_message: _Optional[str] = ..., create_time_seconds: _Optional[float] = ..., end_time_seconds: _Optional[float] = ...) -> None: ...

class CreateTrainingRunRequest(_message.Message):
    __slots__ = ("request_id", "spec")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: TrainingSpec
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[TrainingSpec, _Mapping]] = ...) -> None: ...

class GetTrainingRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class WatchTrainingRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelTrainingRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListTrainingRunsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrainingRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[TrainingRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[TrainingRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
