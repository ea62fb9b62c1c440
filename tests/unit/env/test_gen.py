"""The game generator without the engine: determinism, layout, PDDL shape, levels, bad arguments.

Playing the generated games through the engine is tests/contract/env/test_gen_games.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from a3t.envs.alfworld.engine import TASK_TYPES as ENGINE_TASK_TYPES
from a3t.envs.alfworld.engine import discover_games
from a3t.envs.alfworld.gen import LEVELS, TASK_TYPES, Level, generate_games
from a3t.envs.alfworld.gen import vocab as vocab_mod
from a3t.envs.alfworld.gen.levels import check_levels
from a3t.envs.alfworld.gen.names import display_names, mangle
from a3t.errors import InvalidArgument

FOLDER = re.compile(
    r"^(?P<type>[a-z_]+)-(?P<obj>[A-Za-z]+)-None-(?P<recep>[A-Za-z]+)-(?P<scene>\d+)$"
)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Path]]:
    """12 games per level, seed 7: every admitted task type at least twice."""
    root = tmp_path_factory.mktemp("gen")
    return {level: generate_games(root, f"l{level}", level, 7, 12) for level in LEVELS}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


# --- determinism


def test_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    a = generate_games(tmp_path / "a", "s", 3, 11, 6)
    b = generate_games(tmp_path / "b", "s", 3, 11, 6)
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(files_a) == 6
    assert files_a == files_b


def test_a_game_does_not_depend_on_count(tmp_path: Path) -> None:
    few = generate_games(tmp_path / "few", "s", 2, 3, 2)
    many = generate_games(tmp_path / "many", "s", 2, 3, 5)
    assert [p.read_bytes() for p in few] == [p.read_bytes() for p in many[:2]]


def test_different_seeds_give_different_rooms(tmp_path: Path) -> None:
    one = generate_games(tmp_path, "s", 2, 1, 6)
    two = generate_games(tmp_path, "s", 2, 2, 6)
    for a, b in zip(one, two, strict=True):
        problem_a, problem_b = _load(a)["pddl_problem"], _load(b)["pddl_problem"]
        layout_a = sorted(re.findall(r"\(receptacleType \S+ (\w+)\)", problem_a))
        layout_b = sorted(re.findall(r"\(receptacleType \S+ (\w+)\)", problem_b))
        assert problem_a != problem_b
        # Not just other coordinates: the furniture or the task differ too.
        assert (layout_a, a.parent.parent.name) != (layout_b, b.parent.parent.name)


def test_levels_and_seeds_can_share_a_split(tmp_path: Path) -> None:
    paths = [*generate_games(tmp_path, "mix", 1, 0, 4), *generate_games(tmp_path, "mix", 2, 0, 4)]
    paths += generate_games(tmp_path, "mix", 1, 1, 4)
    assert len(set(paths)) == 12
    assert len(discover_games(tmp_path, "mix")) == 12


# --- layout and content


def test_layout_matches_the_real_data(games: dict[int, list[Path]], tmp_path: Path) -> None:
    for level, paths in games.items():
        split_dir = paths[0].parents[2]
        assert split_dir.parent.name == "json_2.1.1" and split_dir.name == f"l{level}"
        for index, path in enumerate(paths):
            assert path.name == "game.tw-pddl"
            assert path.parent.name == f"trial_L{level}_S7_{index:05d}"
            match = FOLDER.match(path.parent.parent.name)
            assert match, path.parent.parent.name
            game = _load(path)
            assert match["type"] in LEVELS[level].task_types
            assert f"(objectType ?o {match['obj']}Type)" in game["pddl_problem"].replace(
                "?o1", "?o"
            )
            recep = match["recep"]
            assert recep == "DeskLamp" or f"(receptacleType ?r {recep}Type)" in game["pddl_problem"]
            room = game["generator"]["room"]
            assert int(match["scene"]) in vocab_mod.load().scene_numbers[room]
        # The env's own game discovery sees them with the right task types.
        found = discover_games(split_dir.parents[1], split_dir.name)
        assert [r.path for r in found] == sorted(paths, key=lambda p: str(p.relative_to(split_dir)))
        assert all(r.task_type == r.task_id.split("-", 1)[0] for r in found)


def test_task_types_rotate_and_cover_each_level(games: dict[int, list[Path]]) -> None:
    assert set(TASK_TYPES) == set(ENGINE_TASK_TYPES)
    for level, paths in games.items():
        kinds = [p.parent.parent.name.split("-", 1)[0] for p in paths]
        admitted = LEVELS[level].task_types
        assert kinds == [admitted[i % len(admitted)] for i in range(len(paths))]


def test_task_types_argument_selects_types(tmp_path: Path) -> None:
    paths = generate_games(
        tmp_path, "s", 3, 0, 4, ["pick_two_obj_and_place", "pick_heat_then_place_in_recep"]
    )
    kinds = [p.parent.parent.name.split("-", 1)[0] for p in paths]
    # The level's order, whatever order the caller used.
    assert kinds == ["pick_heat_then_place_in_recep", "pick_two_obj_and_place"] * 2


def test_game_json_uses_alfworlds_domain_and_grammar(games: dict[int, list[Path]]) -> None:
    root = vocab_mod.alfworld_dir() / "data"
    domain, grammar = (root / "alfred.pddl").read_text(), (root / "alfred.twl2").read_text()
    for path in games[2]:
        text = path.read_text()
        game = json.loads(text)
        assert list(game) == sorted(game)  # sorted keys: reproducible bytes
        assert set(game) == {
            "generator", "grammar", "pddl_domain", "pddl_problem", "solvable", "walkthrough",
        }  # fmt: skip
        assert game["pddl_domain"] == domain
        assert game["solvable"] is True
        task = re.search(r"Your task is to: (.*)\.\"", game["grammar"]).group(1)
        assert game["grammar"] == grammar.replace("UNKNOWN GOAL", task)
        assert game["generator"]["level"] == 2 and game["generator"]["seed"] == 7
        kind = path.parent.parent.name.split("-", 1)[0]
        templates = vocab_mod.load().templates[kind]
        assert any(
            re.fullmatch(re.sub(r"\\\{\w+\\\}", r"\\w+", re.escape(t)), task) for t in templates
        )


# --- the PDDL problem


def _sexp(text: str) -> list:
    """Parse PDDL into nested lists; raises on unbalanced parentheses."""
    tokens = re.findall(r"\(|\)|[^\s()]+", re.sub(r";[^\n]*", "", text))
    stack: list[list] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            assert len(stack) > 1, "unbalanced ')'"
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    assert len(stack) == 1, "unclosed '('"
    return stack[0]


def _domain_predicates() -> dict[str, list[str]]:
    """predicate -> parameter types, from the domain's :predicates section."""
    domain = _sexp(vocab_mod.load().pddl_domain)[0]
    section = next(s for s in domain if isinstance(s, list) and s and s[0] == ":predicates")
    predicates = {}
    for p in section[1:]:
        types = [p[i + 1] for i in range(1, len(p) - 1) if p[i] == "-"]
        predicates[p[0]] = types
    return predicates


def test_problems_are_well_formed(games: dict[int, list[Path]]) -> None:
    predicates = _domain_predicates()
    constants = vocab_mod.load().domain_constants
    for paths in games.values():
        for path in paths:
            (define,) = _sexp(_load(path)["pddl_problem"])
            assert define[0] == "define" and define[1][0] == "problem"
            assert define[2] == [":domain", "alfred"]
            objects, init, goal = define[3], define[4], define[5]
            assert objects[0] == ":objects" and init[0] == ":init" and goal[0] == ":goal"
            # name - type pairs, every name declared once
            decl = objects[1:]
            assert len(decl) % 3 == 0 and all(d == "-" for d in decl[1::3])
            types = dict(zip(decl[0::3], decl[2::3], strict=True))
            assert len(types) == len(decl) // 3
            for const, kind in constants.items():
                assert types.get(const) == kind, const
            located: dict[str, int] = {}
            holder: dict[str, int] = {}
            for fact in init[1:]:
                name, args = fact[0], fact[1:]
                assert name in predicates, fact
                assert [types.get(a) for a in args] == predicates[name], fact
                if name == "receptacleAtLocation":
                    located[args[0]] = located.get(args[0], 0) + 1
                if name == "inReceptacle":
                    holder[args[0]] = holder.get(args[0], 0) + 1
            receptacles = [n for n, t in types.items() if t == "receptacle"]
            objects_ = [n for n, t in types.items() if t == "object"]
            assert sorted(located) == sorted(receptacles) and set(located.values()) == {1}
            assert sorted(holder) == sorted(objects_) and set(holder.values()) == {1}
            assert sum(f[0] == "atLocation" for f in init[1:]) == 1
            # every type the goal names is declared
            for token in re.findall(r"\b[A-Z]\w*Type\b", str(goal)):
                assert token in types, token


def test_levels_shape_the_scenes(games: dict[int, list[Path]]) -> None:
    openable = vocab_mod.load().openable
    for level, paths in games.items():
        knobs = LEVELS[level]
        for path in paths:
            game = _load(path)
            problem, walkthrough = game["pddl_problem"], game["walkthrough"]
            receptacles = re.findall(r"\(receptacleType (\w+) (\w+)Type\)", problem)
            low, high = knobs.receptacles
            assert low <= len(receptacles) <= high
            assert knobs.plan_steps[0] <= len(walkthrough) <= knobs.plan_steps[1]
            closed = {cls for _, cls in receptacles if cls in openable}
            if not knobs.closed_receptacles:
                assert closed <= {"Fridge", "Microwave"}
            assert "(opened " not in problem  # every openable starts closed, as in the real games
            # Next to the object the first command takes it; in the middle of the room (a
            # location no receptacle is at, as in the real games) it goes somewhere.
            agent = re.search(r"\(atLocation agent1 (\S+)\)", problem)[1]
            places = re.findall(r"\(receptacleAtLocation \S+ (\S+)\)", problem)
            assert (agent in places) == knobs.start_at_object, path
            first_verb = "take " if knobs.start_at_object else "go to "
            assert walkthrough[0].startswith(first_verb), (path, walkthrough)


def test_walkthrough_uses_real_wording(games: dict[int, list[Path]]) -> None:
    verbs = re.compile(
        r"^(go to \w+ \d+|open \w+ \d+|take \w+ \d+ from \w+ \d+|move \w+ \d+ to \w+ \d+"
        r"|(heat|cool|clean) \w+ \d+ with (microwave|fridge|sinkbasin) \d+|use desklamp \d+)$"
    )
    for paths in games.values():
        for path in paths:
            kind = path.parent.parent.name.split("-", 1)[0]
            steps = _load(path)["walkthrough"]
            assert all(verbs.match(s) for s in steps), steps
            last = {"look_at_obj_in_light": "use desklamp"}.get(kind, "move ")
            assert steps[-1].startswith(last)
            verb = {"pick_clean": "clean ", "pick_heat": "heat ", "pick_cool": "cool "}
            for prefix, v in verb.items():
                if kind.startswith(prefix):
                    assert sum(s.startswith(v) for s in steps) == 1


# --- names


def test_mangle_follows_alfworld() -> None:
    assert mangle("Mug|+01.20|+00.91|-02.35") == (
        "Mug_bar__plus_01_dot_20_bar__plus_00_dot_91_bar__minus_02_dot_35"
    )
    assert mangle("loc|3|-2|1|60") == "loc_bar_3_bar__minus_2_bar_1_bar_60"


def test_display_names_number_like_the_demangler() -> None:
    ids = [
        "Drawer|+01.00|+00.50|-01.00",
        "Drawer|-01.00|+00.50|-01.00",
        "Drawer|+00.20|+00.50|-01.00",
        "Sink|+00.16|+00.82|-01.80|SinkBasin",
        "Bathtub|-02.00|+00.10|+01.00|BathtubBasin",
        "CD|+01.00|+01.00|+01.00",
    ]
    names = display_names(ids)
    # sorted PDDL names: _minus_ < _plus_, and 00 < 01: numbered count..1 in that order
    assert names["Drawer|-01.00|+00.50|-01.00"] == "drawer 3"
    assert names["Drawer|+00.20|+00.50|-01.00"] == "drawer 2"
    assert names["Drawer|+01.00|+00.50|-01.00"] == "drawer 1"
    assert names["Sink|+00.16|+00.82|-01.80|SinkBasin"] == "sinkbasin 1"
    assert names["Bathtub|-02.00|+00.10|+01.00|BathtubBasin"] == "bathtubbasin 1"
    assert names["CD|+01.00|+01.00|+01.00"] == "cd 1"


# --- levels and arguments


def test_level_table_is_sane() -> None:
    assert check_levels(LEVELS) == []
    # Easiest first; level 5 came later and sits between 1 and 2 (numbers are never shifted).
    assert list(LEVELS) == [1, 5, 2, 3, 4]
    first = LEVELS[1]
    assert first.receptacles[1] <= 3 and not first.closed_receptacles and first.start_at_object
    assert first.plan_steps[1] <= 3
    assert set(LEVELS[4].task_types) == set(TASK_TYPES)
    # Harder levels never have smaller rooms or shorter plans.
    for name in ("receptacles", "plan_steps"):
        lows = [getattr(level, name)[0] for level in LEVELS.values()]
        assert lows == sorted(lows), name


def test_level_5_is_level_1_in_a_bigger_room_starting_in_the_middle() -> None:
    # Only the room changes between levels 1 and 5, so a success rate that falls from one to the
    # other measures finding things in a room; level 2 then adds task types and objects.
    one, five = LEVELS[1], LEVELS[5]
    assert (five.receptacles, five.start_at_object, five.plan_steps) == ((3, 3), False, (3, 4))
    same = ("task_types", "distractors", "copies", "closed_receptacles", "lamp_with_object")
    assert [getattr(five, k) for k in same] == [getattr(one, k) for k in same]


def test_old_levels_keep_their_games() -> None:
    """Adding a level changed no existing level's games: these digests were taken before it."""
    import hashlib
    import tempfile

    expected = {
        1: "884bde45d04c774f7a9e43b44785a4243cda4192347b3961bf88a5b03270b337",
        2: "3871777f599ce1850151cebf32527ba450a9dec4c7037157b0896c278f9d7bd7",
        3: "48bf24ca85b50f6d614ee1fccaba100252c106b00c35ea935a552a7686bc1ed8",
        4: "2a9f7790f3f880343e93477fe819e12b87ef8ae0464c430247be442e7bd192b7",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for level, digest in expected.items():
            paths = generate_games(Path(tmp), f"l{level}", level, 0, 3)
            text = b"".join(p.read_bytes() for p in paths)
            assert hashlib.sha256(text).hexdigest() == digest, level


def test_check_levels_reports_problems() -> None:
    bad = Level(
        description="bad",
        task_types=("fly_to_the_moon",),
        receptacles=(5, 1),
        distractors=(0, 0),
        copies=(0, 1),
        closed_receptacles=False,
        start_at_object=False,
        lamp_with_object=False,
        plan_steps=(1, 2),
    )
    problems = check_levels({9: bad})
    assert any("task_types" in p for p in problems)
    assert any("receptacles must be 0 <= low <= high" in p for p in problems)
    assert any("copies must be at least 1" in p for p in problems)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": 0}, "level must be one of [1, 2, 3, 4, 5], got 0"),
        ({"level": True}, "level must be one of"),
        ({"seed": -1}, "seed must be an integer in [0, 2**63 - 1], got -1"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"count": 0}, "count must be an integer in [1, 10000], got 0"),
        ({"split": "../up"}, "split must be 1-64 letters, digits, '_' or '-', got '../up'"),
        ({"split": ""}, "split must be"),
        (
            {"level": 1, "task_types": ["pick_two_obj_and_place"]},
            "task_types must be a non-empty subset of ['pick_and_place_simple', "
            "'look_at_obj_in_light'] (the types level 1 admits)",
        ),
        ({"task_types": []}, "task_types must be a non-empty subset"),
    ],
)
def test_bad_arguments_raise_invalid_argument(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"split": "s", "level": 2, "seed": 0, "count": 1, "task_types": None} | kwargs
    with pytest.raises(InvalidArgument) as info:
        generate_games(tmp_path, **args)
    assert message in str(info.value)
    assert not (tmp_path / "json_2.1.1").exists()  # nothing written


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        generate_games(tmp_path, "a/b", 7, -3, 0)
    text = str(info.value)
    assert all(word in text for word in ("split", "level", "seed", "count"))


def test_cli_writes_games(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from a3t.envs.alfworld.gen.__main__ import main

    argv = ["--out", str(tmp_path), "--split", "cli", "--level", "1", "--seed", "4"]
    assert main([*argv, "--count", "3", "--no-verify"]) == 0
    assert len(list((tmp_path / "json_2.1.1" / "cli").glob("*/*/game.tw-pddl"))) == 3
    assert "3 games in" in capsys.readouterr().out
    assert main([*argv, "--count", "0", "--no-verify"]) == 2
