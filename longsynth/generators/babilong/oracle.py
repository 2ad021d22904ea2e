"""The babilong oracle: the story read back from the row's text alone, re-run, and asked again.

Three checks, each with the defect it exists to catch (planted by the contract tests):

- facts in place: every recorded fact is in the input at its recorded offsets, saying what it records;
- answer from the facts: the facts the input states, in reading order, are the recorded story, every
  one of them can happen (a strict world), and the world they leave answers the question the input
  asks with the row's answer (a wrong answer is caught here);
- supporting facts: the recorded supporting facts are all stated (one cut out of the text is caught),
  and they alone, re-run without the others, give the same answer: no other fact (a distractor about
  another person or thing) changes it. A distractor that does change the state (the asked person
  walks on, the thing is handed over) makes the text's answer differ from the row's.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ...metadata_json import decode_metadata, encode_metadata
from ...templating import Templates
from ...validators.base import Validator
from . import stories, wording
from .world import Fact, replay


def _story(generator, row: dict[str, Any], metadata: dict[str, Any]):
    """(facts read from the input in order, the question read, the recorded story, problems); the
    question is None when the input does not ask exactly one."""
    templates = generator.templates
    text = row["input"]
    found = [fact for _, _, fact in wording.read_facts(templates, text)]
    questions = wording.read_question(templates, text)
    problems = [] if len(questions) == 1 else [f"the input asks {len(questions)} questions, expected 1"]
    recorded = [Fact.from_dict(record) for record in metadata["facts"]]
    return found, questions[0] if len(questions) == 1 else None, recorded, problems


def facts_in_place(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    text, problems = row["input"], []
    for n, record in enumerate(metadata["facts"]):
        stated = text[record["char_offset"] : record["char_end"]]
        expected = Fact.from_dict(record)
        read = [
            Fact(kind, **m.groupdict())
            for kind, pattern in wording.fact_patterns(generator.templates)
            if (m := pattern.fullmatch(stated)) is not None
        ]
        if read != [expected]:
            problems.append(f"fact {n} is not at its recorded offsets {record['char_offset']}..{record['char_end']}")
    return problems


def answer_from_facts(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    facts, question, recorded, problems = _story(generator, row, metadata)
    if question is None:
        return problems
    if facts != recorded:
        problems.append(f"the input states {len(facts)} facts that differ from the {len(recorded)} recorded")
    world, refused = replay(facts, strict=True)
    problems += refused[:3]
    answer, _ = world.answer(question)
    if answer is None:
        problems.append("the facts in the input give the question no single answer")
    elif [answer] != list(row["answers"]):
        problems.append(f"answer {list(row['answers'])} differs from the one the facts in the input give, {answer!r}")
    return problems


def supporting_facts(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    facts, question, recorded, problems = _story(generator, row, metadata)
    if question is None:
        return problems
    outside = [n for n in metadata["supporting"] if not (type(n) is int and 0 <= n < len(recorded))]
    if outside:  # (a number below zero would read a fact from the end)
        return problems + [f"supporting fact {outside[0]!r} is not one of the {len(recorded)} recorded facts"]
    support = [recorded[n] for n in metadata["supporting"]]
    # The recorded story, aligned in order with the facts the input states: a recorded fact with no
    # partner is not stated (a fact stated twice in the story is matched to its own occurrence).
    unmatched, position = [], 0
    for n, fact in enumerate(recorded):
        found = next((k for k in range(position, len(facts)) if facts[k] == fact), None)
        if found is None:
            unmatched.append(n)  # the next recorded fact is looked for from the same place
        else:
            position = found + 1
    missing = [n for n in metadata["supporting"] if n in unmatched] or unmatched
    if missing:
        kind = "supporting fact" if set(missing) <= set(metadata["supporting"]) else "fact"
        return problems + [f"{kind} {missing[0]} ({recorded[missing[0]].kind}) is not stated in the input"]
    alone, _ = replay(support, strict=False)
    everything, _ = replay(facts, strict=True)
    said, with_all = alone.answer(question)[0], everything.answer(question)[0]
    if said != with_all:
        problems.append(
            f"the supporting facts alone answer {said!r} but the whole input answers {with_all!r}: "
            "another fact changes the answer"
        )
    if [said] != list(row["answers"]):
        problems.append(f"the supporting facts answer {said!r}, not {list(row['answers'])}")
    return problems


# --------------------------------------------------------------------------- planted defects


def _move_first_fact(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    metadata["facts"][0]["char_offset"] += 1
    return {**row, "metadata": encode_metadata(metadata)}


def _wrong_answer(row: dict[str, Any]) -> dict[str, Any]:
    labels = decode_metadata(row["metadata"])["labels"]
    other = next(w for w in labels if w != row["answers"][0])
    return {**row, "answers": [other]}


def _drop_last_supporting_fact(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    fact = metadata["facts"][metadata["supporting"][-1]]
    text = row["input"]
    return {**row, "input": text[: fact["char_offset"]] + text[fact["char_end"] :]}


def _default_templates() -> Templates:
    """The family's own wordings (the generator's `template_folder`), for planting without a generator."""
    return Templates.for_family("babilong", Path(__file__).parent / "templates", None)


def state_changing_distractor(row: dict[str, Any], tries: int = 2000) -> dict[str, Any]:
    """A copy of a row (built with the default wordings) with one to three facts added after its last
    fact: facts the world allows, about the story's people, rooms and things, that change the answer
    to the question (the asked person walks on, the thing changes hands) or leave it with none (a
    second room north of the one asked about). Found by a seeded search over continuations."""
    templates = _default_templates()
    metadata = decode_metadata(row["metadata"])
    story = [Fact.from_dict(record) for record in metadata["facts"]]
    (question,) = wording.read_question(templates, row["input"])
    rng = random.Random(row["id"])
    names = sorted({f.person for f in story if f.person} | {f.other for f in story if f.other})
    rooms = sorted({f.room for f in story if f.room} | {f.near for f in story if f.near} | {question.room} - {""})
    things = sorted({f.thing for f in story if f.thing})
    for _ in range(tries):
        world, _ = replay(story, strict=True)
        before = world.answer(question)[0]
        added = []
        for _ in range(rng.randint(1, 3)):
            if row["task"] == "qa4":  # a room no story uses, on the asked side of the asked room
                new = rng.choice(("library", "cloakroom"))
                if question.kind == "room_in_direction":
                    fact = Fact("relation", room=new, direction=question.direction, near=question.room)
                else:
                    fact = Fact("relation", room=question.room, direction=question.direction, near=new)
            else:
                fact = stories.step(row["task"], world, rng, names, rooms, things)
            if world.apply(fact) is None:
                added.append(fact)
        if added and world.answer(question)[0] != before:
            last = metadata["facts"][-1]["char_end"]
            text = row["input"]
            said = " ".join(wording.render_fact(templates, fact, rng) for fact in added)
            return {**row, "input": f"{text[:last]} {said}{text[last:]}"}
    raise AssertionError(f"no state-changing continuation found for {row['id']}")


VALIDATORS = (
    Validator("facts in place", facts_in_place, _move_first_fact),
    Validator("answer from the facts", answer_from_facts, _wrong_answer),
    Validator("supporting facts", supporting_facts, _drop_last_supporting_fact),
)
