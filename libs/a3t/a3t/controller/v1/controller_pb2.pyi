from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_STATE_UNSPECIFIED: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_PENDING: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_RUNNING: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_SUCCEEDED: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_FAILED: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_CANCELLED: _ClassVar[ExperimentState]

class RoundPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_PHASE_UNSPECIFIED: _ClassVar[RoundPhase]
    ROUND_PHASE_ATTEMPT: _ClassVar[RoundPhase]
    ROUND_PHASE_EXPLORE: _ClassVar[RoundPhase]
    ROUND_PHASE_SELECT: _ClassVar[RoundPhase]
    ROUND_PHASE_COMPOSE: _ClassVar[RoundPhase]
    ROUND_PHASE_TRAIN: _ClassVar[RoundPhase]
    ROUND_PHASE_EVALUATE: _ClassVar[RoundPhase]
    ROUND_PHASE_PROMOTE: _ClassVar[RoundPhase]
    ROUND_PHASE_DONE: _ClassVar[RoundPhase]

class Selector(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SELECTOR_UNSPECIFIED: _ClassVar[Selector]
    SELECTOR_ENV: _ClassVar[Selector]
    SELECTOR_CRITIC: _ClassVar[Selector]
    SELECTOR_HYBRID: _ClassVar[Selector]
    SELECTOR_ORACLE: _ClassVar[Selector]
    SELECTOR_RANDOM: _ClassVar[Selector]
EXPERIMENT_STATE_UNSPECIFIED: ExperimentState
EXPERIMENT_STATE_PENDING: ExperimentState
EXPERIMENT_STATE_RUNNING: ExperimentState
EXPERIMENT_STATE_SUCCEEDED: ExperimentState
EXPERIMENT_STATE_FAILED: ExperimentState
EXPERIMENT_STATE_CANCELLED: ExperimentState
ROUND_PHASE_UNSPECIFIED: RoundPhase
ROUND_PHASE_ATTEMPT: RoundPhase
ROUND_PHASE_EXPLORE: RoundPhase
ROUND_PHASE_SELECT: RoundPhase
ROUND_PHASE_COMPOSE: RoundPhase
ROUND_PHASE_TRAIN: RoundPhase
ROUND_PHASE_EVALUATE: RoundPhase
ROUND_PHASE_PROMOTE: RoundPhase
ROUND_PHASE_DONE: RoundPhase
SELECTOR_UNSPECIFIED: Selector
SELECTOR_ENV: Selector
SELECTOR_CRITIC: Selector
SELECTOR_HYBRID: Selector
SELECTOR_ORACLE: Selector
SELECTOR_RANDOM: Selector

class ExperimentSpec(_message.Message):
    __slots__ = ("name", "env", "train_split", "eval_split", "rounds", "explore_attempts", "explore_probability", "max_positives_per_task", "selector", "max_steps", "max_train_tasks", "max_eval_tasks", "config_yaml")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SPLIT_FIELD_NUMBER: _ClassVar[int]
    EVAL_SPLIT_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    EXPLORE_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    EXPLORE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITIVES_PER_TASK_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_TRAIN_TASKS_FIELD_NUMBER: _ClassVar[int]
    MAX_EVAL_TASKS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_YAML_FIELD_NUMBER: _ClassVar[int]
    name: str
    env: str
    train_split: str
    eval_split: str
    rounds: int
    explore_attempts: int
    explore_probability: _containers.RepeatedScalarFieldContainer[float]
    max_positives_per_task: int
    selector: Selector
    max_steps: int
    max_train_tasks: int
    max_eval_tasks: int
    config_yaml: str
    def __init__(self, name: _Optional[str] = ..., env: _Optional[str] = ..., train_split: _Optional[str] = ..., eval_split: _Optional[str] = ..., rounds: _Optional[int] = ..., explore_attempts: _Optional[int] = ..., explore_probability: _Optional[_Iterable[float]] = ..., max_positives_per_task: _Optional[int] = ..., selector: _Optional[_Union[Selector, str]] = ..., max_steps: _Optional[int] = ..., max_train_tasks: _Optional[int] = ..., max_eval_tasks: _Optional[int] = ..., config_yaml: _Optional[str] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("experiment_id", "request_id", "spec", "state", "current_round", "current_phase", "error_message", "create_time_seconds", "waiting_for")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ROUND_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PHASE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    request_id: str
    spec: ExperimentSpec
    state: ExperimentState
    current_round: int
    current_phase: RoundPhase
    error_message: str
    create_time_seconds: float
    waiting_for: str
    def __init__(self, experiment_id: _Optional[str] = ..., request_id: _Optional[str] = ..., spec: _Optional[_Union[ExperimentSpec, _Mapping]] = ..., state: _Optional[_Union[ExperimentState, str]] = ..., current_round: _Optional[int] = ..., current_phase: _Optional[_Union[RoundPhase, str]] = ..., error_message: _Optional[str] = ..., create_time_seconds: _Optional[float] = ..., waiting_for: _Optional[str] = ...) -> None: ...

class ExperimentEvent(_message.Message):
    __slots__ = ("experiment_id", "round", "phase", "done", "total", "message", "state")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    round: int
    phase: RoundPhase
    done: int
    total: int
    message: str
    state: ExperimentState
    def __init__(self, experiment_id: _Optional[str] = ..., round: _Optional[int] = ..., phase: _Optional[_Union[RoundPhase, str]] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., message: _Optional[str] = ..., state: _Optional[_Union[ExperimentState, str]] = ...) -> None: ...

class Round(_message.Message):
    __slots__ = ("round", "phase", "attempt_solved", "attempt_total", "explore_solved", "selected", "pool_size", "adapter", "eval_success_rate", "eval_success_by_type", "cumulative_success_rate")
    class EvalSuccessByTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_SOLVED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXPLORE_SOLVED_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    EVAL_SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    EVAL_SUCCESS_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    round: int
    phase: RoundPhase
    attempt_solved: int
    attempt_total: int
    explore_solved: int
    selected: int
    pool_size: int
    adapter: str
    eval_success_rate: float
    eval_success_by_type: _containers.ScalarMap[str, float]
    cumulative_success_rate: float
    def __init__(self, round: _Optional[int] = ..., phase: _Optional[_Union[RoundPhase, str]] = ..., attempt_solved: _Optional[int] = ..., attempt_total: _Optional[int] = ..., explore_solved: _Optional[int] = ..., selected: _Optional[int] = ..., pool_size: _Optional[int] = ..., adapter: _Optional[str] = ..., eval_success_rate: _Optional[float] = ..., eval_success_by_type: _Optional[_Mapping[str, float]] = ..., cumulative_success_rate: _Optional[float] = ...) -> None: ...

class GetExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class CreateExperimentRequest(_message.Message):
    __slots__ = ("request_id", "spec")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: ExperimentSpec
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[ExperimentSpec, _Mapping]] = ...) -> None: ...

class WatchExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ListRoundsRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ListRoundsResponse(_message.Message):
    __slots__ = ("rounds",)
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    rounds: _containers.RepeatedCompositeFieldContainer[Round]
    def __init__(self, rounds: _Optional[_Iterable[_Union[Round, _Mapping]]] = ...) -> None: ...

class CancelExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ResumeExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments", "next_page_token")
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    next_page_token: str
    def __init__(self, experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
