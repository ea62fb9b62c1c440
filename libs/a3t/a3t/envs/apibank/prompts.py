"""API-Bank's prompting: the policy's system prompt and 1-shot exemplar, ActRe's worked answers.

The exemplar and the ActRe transcripts are our own made-up APIs and dialogues (none of
API-Bank's data), in exactly the text the engine renders (tests/unit/envs/apibank/
test_prompts.py renders them with the engine's functions): the API descriptions and the
dialogue, the instruction, then one request and its result. Each step is one assistant turn
`think: <thought>` + `API-Request: [...]` (a3t.inference.chat).
"""

from __future__ import annotations

from a3t.envs.base import ActReExample, EnvPrompts, EpisodeExample

POLICY_SYSTEM = (
    "You make API requests for an AI assistant. You are shown API descriptions (one JSON object "
    "per line) and a dialogue between a user and the AI. Write the one API request the AI "
    "should make next, on one line: API-Request: [ApiName(key='value', ...)] with an API from "
    "the descriptions, each of its arguments named, values taken from the dialogue and written "
    "in the format the description gives (dates %Y-%m-%d, times %Y-%m-%d %H:%M:%S). You may "
    "write one line `think: <reasoning>` before it. Write nothing else."
)

_WEATHER = (
    '{"name": "GetWeather", "description": "Returns the weather forecast for a city on a '
    'date.", "input_parameters": {"city": {"type": "str", "description": "The name of the '
    'city."}, "date": {"type": "str", "description": "The date. Format: %Y-%m-%d"}}, '
    '"output_parameters": {"forecast": {"type": "str", "description": "The forecast."}}}'
)
_TAXI = (
    '{"name": "BookTaxi", "description": "Books a taxi from an address at a time.", '
    '"input_parameters": {"address": {"type": "str", "description": "The pick-up address."}, '
    '"time": {"type": "str", "description": "The pick-up time. Format: %Y-%m-%d %H:%M:%S"}}, '
    '"output_parameters": {"booking_id": {"type": "str", "description": "The booking id."}}}'
)
_SIGN_IN = (
    '{"name": "SignIn", "description": "Returns the token of a user given the username and '
    'password.", "input_parameters": {"username": {"type": "str", "description": "The '
    'username."}, "password": {"type": "str", "description": "The password."}}, '
    '"output_parameters": {"token": {"type": "str", "description": "The user\'s token."}}}'
)
_ADD_TODO = (
    '{"name": "AddTodo", "description": "Adds a task to a user\'s to-do list.", '
    '"input_parameters": {"token": {"type": "str", "description": "The user\'s token."}, '
    '"task": {"type": "str", "description": "The task."}, "due": {"type": "str", '
    '"description": "The due date. Format: %Y-%m-%d"}}, "output_parameters": {"status": '
    '{"type": "str", "description": "success or failed"}}}'
)
_INSTRUCTION = "Generate the API request the dialogue calls for. The current year is 2023."

# The made-up items the exemplar and the ActRe answers use: their descriptions and dialogues.
WEATHER_DESCRIPTIONS = (_WEATHER, _TAXI)
WEATHER_DIALOGUE = (
    "User: Will it rain in Lisbon on May 3rd? I am planning a picnic.\n"
    "AI: Let me check the forecast for Lisbon on May 3rd."
)
TODO_DESCRIPTIONS = (_SIGN_IN, _ADD_TODO)
TODO_DIALOGUE = (
    "User: Please add 'renew passport' to my to-do list, due June 1st.\n"
    "AI: Sure. What are your username and password?\n"
    "User: mira and tulip42.\n"
    "API-Request: [SignIn(username='mira', password='tulip42')]->{'token': 'k3j9x0q7'}\n"
    "AI: You are signed in. Adding the task now."
)
# `engine.first_observation` of those items (the test renders them with the engine).
WEATHER_OBSERVATION = (
    f"API descriptions:\n{_WEATHER}\n{_TAXI}\n\n{WEATHER_DIALOGUE}\n{_INSTRUCTION}"
)
TODO_OBSERVATION = f"API descriptions:\n{_SIGN_IN}\n{_ADD_TODO}\n\n{TODO_DIALOGUE}\n{_INSTRUCTION}"
WEATHER_REQUEST = "API-Request: [GetWeather(city='Lisbon', date='2023-05-03')]"
WEATHER_RESULT = (
    "API-Request: [GetWeather(city='Lisbon', date='2023-05-03')]->Sunny, 24 C, no rain expected."
)
POSITIONAL_REQUEST = "API-Request: [GetWeather('Lisbon', '2023-05-03')]"
POSITIONAL_ERROR = (
    "Error: GetWeather was given 2 positional arguments; name every argument: "
    "GetWeather(key='value', ...)"
)
TODO_REQUEST = "API-Request: [AddTodo(token='k3j9x0q7', task='renew passport', due='2023-06-01')]"

EXAMPLE = EpisodeExample(
    observation=WEATHER_OBSERVATION,
    steps=(
        (
            "The user asks about the weather in Lisbon on May 3rd. GetWeather takes a city and "
            "a date; the year is 2023, so the date is 2023-05-03.",
            WEATHER_REQUEST,
            WEATHER_RESULT,
        ),
    ),
)

ACTRE_SYSTEM = (
    "You explain an assistant's API requests. You are shown API descriptions, a dialogue "
    "between a user and the assistant, and the API request the assistant makes next. Write "
    "one short sentence saying why this API, with these argument values, is the request the "
    "dialogue calls for. Do not describe its result."
)

# Transcripts as the ActRe prompt renders them: the first observation, then "> request" and
# the answer it brought, per step.
ACTRE_EXAMPLES = (
    ActReExample(
        transcript=WEATHER_OBSERVATION,
        action=WEATHER_REQUEST,
        rationale="The user wants Lisbon's forecast for May 3rd of 2023, so GetWeather gets city "
        "'Lisbon' and date '2023-05-03'.",
    ),
    ActReExample(
        transcript=TODO_OBSERVATION,
        action=TODO_REQUEST,
        rationale="SignIn returned token 'k3j9x0q7', which AddTodo needs along with the task and "
        "the June 1st due date the user gave.",
    ),
    ActReExample(
        transcript=f"{WEATHER_OBSERVATION}\n> {POSITIONAL_REQUEST}\n{POSITIONAL_ERROR}",
        action=WEATHER_REQUEST,
        rationale="The request was refused because its arguments were not named, so I repeat it "
        "with city= and date=.",
    ),
)

PROMPTS = EnvPrompts(
    policy_system=POLICY_SYSTEM,
    examples={"": EXAMPLE},  # one exemplar for every API
    actre_system=ACTRE_SYSTEM,
    actre_examples=ACTRE_EXAMPLES,
    critic_rubric="tool_use",
    # How the engine's answers and the dialogue's turns begin; a small model runs on and writes
    # them itself. Not "API-Request:": the agent's own request line begins with it.
    observation_starts=(
        "API descriptions",
        "User:",
        "AI:",
        "Error:",
        "Generate API Request",
        "Generate the API request",
        "->",
    ),
)
