"""Reading API-Bank's release (Li et al. 2023, Apache-2.0): level-1 items, databases, splits.

a3t ships none of API-Bank's data; the env reads a copy of the release from its data root
(`<data_root>/apibank`, or `--env-data-roots apibank=/path/to/api-bank`), laid out as the
release is:

    test-data/level-1-api.json        the 399 level-1 items: file, id, instruction (preamble +
                                      "API descriptions:" + one JSON description per line),
                                      input (the dialogue, earlier API requests as
                                      "API-Request: [...]->result" lines), expected_output
    init_database/<Name>.json         the databases the APIs read (Account, Agenda, Alarm,
                                      Appointments, Bank, HealthData, History, Hotel,
                                      ImageCaptioning, Meeting, QuestionAnswering, Reminder,
                                      Scenes, SearchEngine, SpeechRecognition, Stock, Symptom,
                                      TimeSwitch, Wiki)
    lv1-lv2-samples/*/*.jsonl         the source dialogues (one event per line); only their
                                      recorded Dictionary and Translate results are read, as
                                      the offline stand-ins' tables

Splits: `level-1` is every item; `level-1-train` / `level-1-test` split the items 70/30 by
source dialogue (the item's `file`): the sorted dialogue names are shuffled with
random.Random(SPLIT_SEED), SPLIT_SEED = 20230401, and the first 70% (rounded) go to train, so no
dialogue has items on both sides and the same release always gives the same splits (API-Bank's
release: 285 items from 148 dialogues, and 114 items from 64 dialogues).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a3t.envs.apibank.apis import ApiError, Reference, SearchIndex, State, language_code
from a3t.errors import FailedPrecondition, NotFound

ITEMS = Path("test-data/level-1-api.json")
DATABASES = Path("init_database")
DIALOGUES = Path("lv1-lv2-samples")
LEVEL_1 = "level-1"
TRAIN = "level-1-train"
TEST = "level-1-test"
SPLITS = (LEVEL_1, TRAIN, TEST)
SPLIT_SEED = 20230401
TRAIN_FRACTION = 0.7
PROMPT_LINE = "Generate API Request:"
_YEAR = re.compile(r"The current year is \d{4}\.")
_GOLD_PREFIX = "API-Request: "


@dataclass(frozen=True)
class Item:
    """One level-1 item: the request its dialogue calls for next."""

    task_id: str  # "<dialogue file stem>/<id>": the release's ids repeat across dialogues
    file: str  # the source dialogue
    sample_id: int  # the item's `id` (its position among its dialogue's samples)
    descriptions: tuple[str, ...]  # one JSON API description per line, as the item gives them
    dialogue: str  # the item's input, less its closing "Generate API Request:" line
    year: str  # "The current year is 2023." from the item's preamble ("" when absent)
    gold: str  # the expected request, "[ApiName(...)]"
    api: str  # the expected request's API name
    # The dialogue's earlier requests and their recorded results, in order.
    earlier: tuple[tuple[str, str], ...]


def require(root: Path) -> None:
    """NotFound unless `root` holds API-Bank's release."""
    if not all(p.exists() for p in (root / ITEMS, root / DATABASES, root / DIALOGUES)):
        raise NotFound(
            f"API-Bank's release is expected at {root} (with {ITEMS}, {DATABASES}/ and "
            f"{DIALOGUES}/); copy the release there or point the env service at it with "
            "--env-data-roots apibank=/path/to/api-bank"
        )


def read_items(root: Path) -> list[Item]:
    require(root)
    raw = json.loads((root / ITEMS).read_text("utf-8"))
    items = []
    for entry in raw:
        try:
            items.append(_item(entry))
        except (KeyError, ValueError, TypeError) as e:
            raise FailedPrecondition(
                f"{root / ITEMS}: item {entry.get('id')!r} of {entry.get('file')!r} is not a "
                f"level-1 item ({e}); is this API-Bank's release?"
            ) from None
    keys = [i.task_id for i in items]
    if len(set(keys)) != len(keys):
        raise FailedPrecondition(f"{root / ITEMS} names a (file, id) twice")
    return items


def _item(entry: dict[str, Any]) -> Item:
    instruction, dialogue = entry["instruction"], entry["input"]
    preamble, marker, described = instruction.partition("API descriptions:")
    if not marker:
        raise ValueError("no 'API descriptions:' in its instruction")
    descriptions = tuple(line.strip() for line in described.splitlines() if line.strip())
    year = _YEAR.search(preamble)
    lines = dialogue.rstrip().splitlines()
    if lines and lines[-1].strip() == PROMPT_LINE:
        lines.pop()
    earlier = tuple(
        (request + ")]", result)
        for line in lines
        if line.startswith(_GOLD_PREFIX) and ")]->" in line
        for request, _, result in [line[len(_GOLD_PREFIX) :].partition(")]->")]
    )
    gold = entry["expected_output"].strip().removeprefix(_GOLD_PREFIX).strip()
    api = re.match(r"\[(\w+)\(", gold)
    if api is None:
        raise ValueError(f"expected_output {gold[:60]!r} is not a request")
    return Item(
        task_id=f"{Path(entry['file']).stem}/{int(entry['id'])}",
        file=entry["file"],
        sample_id=int(entry["id"]),
        descriptions=descriptions,
        dialogue="\n".join(lines),
        year=year.group(0) if year else "",
        gold=gold,
        api=api.group(1),
        earlier=earlier,
    )


def check_split(split: str) -> None:
    """NotFound naming the splits unless `split` is one."""
    if split not in SPLITS:
        raise NotFound(f"apibank has no split {split!r}; its splits: {', '.join(SPLITS)}")


def split_items(items: list[Item], split: str) -> list[Item]:
    """The items of a split (see the module docstring); NotFound naming the splits."""
    check_split(split)
    if split == LEVEL_1:
        return items
    files = sorted({i.file for i in items})
    random.Random(SPLIT_SEED).shuffle(files)
    train = set(files[: round(len(files) * TRAIN_FRACTION)])
    return [i for i in items if (i.file in train) == (split == TRAIN)]


def _read(root: Path, name: str) -> Any:
    path = root / DATABASES / f"{name}.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise FailedPrecondition(f"cannot read API-Bank's database {path}: {e}") from None


def _recorded(root: Path) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """The Dictionary and Translate results the release's dialogues recorded (the stand-ins'
    tables): keyword -> meanings, (text, target language code) -> translation."""
    meanings: dict[str, Any] = {}
    translations: dict[tuple[str, str], str] = {}
    for path in sorted((root / DIALOGUES).glob("*/*.jsonl")):
        try:
            events = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
            for event in events:
                if event.get("role") != "API" or event["result"].get("exception"):
                    continue
                args, output = event["param_dict"], event["result"]["output"]
                if event["api_name"] == "Dictionary":
                    meanings[args["keyword"].replace("_", " ").strip().lower()] = output
                elif event["api_name"] == "Translate":
                    target = language_code(args.get("tgt_lang", "en"))
                    translations[(args["src"].strip(), target)] = output
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ApiError) as e:
            raise FailedPrecondition(f"cannot read API-Bank's dialogue {path}: {e!r}") from None
    return meanings, translations


def read_state(root: Path) -> State:
    """The databases as an episode starts from them (copy with `State.fresh`)."""
    require(root)
    search = _read(root, "SearchEngine")
    meanings, translations = _recorded(root)
    ref = Reference(
        stocks=_read(root, "Stock"),
        symptoms={k.strip().lower(): v for k, v in _read(root, "Symptom").items()},
        history=_read(root, "History"),
        documents=_read(root, "QuestionAnswering"),
        captions={d["url"].strip(): d["caption"] for d in _read(root, "ImageCaptioning")},
        transcripts=_read(root, "SpeechRecognition"),
        search_documents=search["raw_documents"],
        search_index=SearchIndex(
            [f"{d['title']} {d['abstract']}" for d in search["raw_documents"]]
        ),
        wiki={k.strip().lower(): v for k, v in _read(root, "Wiki").items()},
        dictionary=meanings,
        translations=translations,
    )
    return State(
        accounts=_read(root, "Account"),
        agenda=_read(root, "Agenda"),
        alarms=_read(root, "Alarm"),
        appointments=_read(root, "Appointments"),
        balances=_read(root, "Bank"),
        health=_read(root, "HealthData"),
        hotel_orders=_read(root, "Hotel"),
        meetings=_read(root, "Meeting"),
        reminders=_read(root, "Reminder"),
        scenes={k.strip().lower(): v for k, v in _read(root, "Scenes").items()},
        switches=_read(root, "TimeSwitch"),
        ref=ref,
    )
