"""Stories for the babilong tasks: a seeded walk of the world (`world.World`), then a question the
story answers, with the facts that support the answer.

bAbI's stories (Weston et al., 2015) have four people, six rooms and three things per task; so do
ours, drawn per sample from larger lists of our own (people from the shared first-name pool), so the
answer is not a word a model can guess from the task alone. Each task's default story length is
near bAbI's: qa1 10 facts, qa2 16, qa3 20, qa4 2, qa5 14 (`--set facts=N` for longer stories).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...errors import BudgetError
from ...text.vocabulary import name_pools
from .world import DIRECTIONS, OPPOSITE, QUESTIONS, Fact, Question, World

ROOMS = (
    "attic",
    "balcony",
    "cellar",
    "garage",
    "kitchen",
    "pantry",
    "porch",
    "study",
    "nursery",
    "hallway",
    "bedroom",
    "greenhouse",
)
THINGS = (
    "umbrella",
    "kettle",
    "notebook",
    "scarf",
    "compass",
    "violin",
    "hammer",
    "candle",
    "teapot",
    "telescope",
    "pillow",
    "globe",
)
PEOPLE, ROOMS_PER_STORY, THINGS_PER_STORY = 4, 6, 3
DEFAULT_FACTS = {"qa1": 10, "qa2": 16, "qa3": 20, "qa4": 2, "qa5": 14}
MAX_QA3_FACTS = 80  # beyond, a thing has usually been in its latest room before: 2% of draws fail at 80, 41% at 200
MAX_RELATIONS = len(ROOMS) - 1  # qa4 lays out every room of a story on a grid, one relation per room added
# A story that has not reached a question after `facts` steps runs on, up to this many times longer
# (and at least `MIN_REACH` facts: qa3 needs a thing carried through two rooms, whatever was asked).
EXTRA_STEPS, MIN_REACH = 4, 64


@dataclass
class Story:
    facts: list[Fact]
    question: Question
    answer: str
    supporting: list[int]  # indices into `facts`, in story order
    labels: list[str]  # the words of the answer's kind the story uses, less those the question names


def people(rng: random.Random, count: int = PEOPLE) -> list[str]:
    firsts, _ = name_pools()
    return rng.sample([n for n in firsts if n.isalpha() and n[0].isupper() and n[1:].islower()], count)


def draw(task: str, rng: random.Random, facts: int) -> Story:
    """A story of about `facts` facts for the task, with its question; a draw that reaches no
    question is a BudgetError (the pipeline draws again with the next seed)."""
    names = people(rng)
    rooms = rng.sample(ROOMS, ROOMS_PER_STORY)
    things = rng.sample(THINGS, THINGS_PER_STORY)
    if task == "qa4":
        return _layout(rng, facts)
    world, story = World(), []
    reach = max(facts * EXTRA_STEPS, MIN_REACH)
    for n in range(reach):
        fact = step(task, world, rng, names, rooms, things)
        problem = world.apply(fact)
        assert problem is None, problem  # the walk only takes steps the world allows
        story.append(fact)
        if n + 1 >= facts:
            asked = _question(task, world, rng, names, things)
            if asked is not None:
                question, answer, support = asked
                return Story(story, question, answer, support, _labels(story, question))
    raise BudgetError(f"{task}: no question came out of a {reach}-fact story; draw again")


def step(task: str, world: World, rng: random.Random, names, rooms, things) -> Fact:
    """One fact the world allows: qa1 only moves people; qa2 and qa3 also take and put down things;
    qa5 mostly hands things over between people in one room."""
    located = [p for p in names if p in world.where]
    options: list[tuple[float, Fact]] = []
    for person in names:
        room = rng.choice([r for r in rooms if r != world.where.get(person)])
        if task == "qa5" and located and rng.random() < 0.6:  # meet someone, so that gifts can happen
            others = sorted({world.where[p] for p in located if p != person} - {world.where.get(person)})
            room = rng.choice(others) if others else room
        options.append((3.0 if task == "qa5" else 4.0, Fact("move", person=person, room=room)))
    if task != "qa1":
        for person in located:
            here = world.where[person]
            for thing in things:
                free = thing not in world.holder and world.lying.get(thing, here) == here
                if free:
                    options.append((1.0 if task == "qa5" else 2.0, Fact("take", person=person, thing=thing)))
                elif world.holder.get(thing) == person:
                    options.append((0.5 if task == "qa5" else 1.5, Fact("drop", person=person, thing=thing)))
                    if task == "qa5":
                        for other in located:
                            if other != person and world.where[other] == here:
                                options.append((4.0, Fact("give", person=person, thing=thing, other=other)))
    weights = [w for w, _ in options]
    return rng.choices([f for _, f in options], weights=weights)[0]


def _question(task: str, world: World, rng: random.Random, names, things):
    """(question, answer, supporting facts) the story so far answers, or None."""
    asked: list[Question] = []
    if task == "qa1":
        asked = [Question("where_person", person=p) for p in names if p in world.where]
    elif task == "qa2":
        asked = [Question("where_thing", thing=t) for t in things]
    elif task == "qa3":
        asked = [Question("where_before", thing=t, room=world.trail[t][-1][0]) for t in things if world.trail.get(t)]
    elif task == "qa5" and world.gives:
        giver, thing, receiver, _ = rng.choice(world.gives)
        asked = [
            Question("giver", thing=thing, other=receiver),
            Question("gift", person=giver, other=receiver),
            Question("receiver", person=giver, thing=thing),
            Question("last_receiver", thing=thing),
            Question("last_giver", thing=thing),
        ]
    rng.shuffle(asked)
    for question in asked:
        answer, support = world.answer(question)
        if answer is not None:
            return question, answer, support
    return None


def _layout(rng: random.Random, relations: int) -> Story:
    """qa4: rooms laid out on a grid, one stated relation per room added (each between the new room and
    one next to it), so every "what lies north of X" has one answer; the question asks one of them,
    from either end."""
    if not 1 <= relations <= MAX_RELATIONS:
        raise BudgetError(f"qa4 states 1 to {MAX_RELATIONS} relations, not {relations}")
    step = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
    rooms = rng.sample(ROOMS, relations + 1)
    cells = {rooms[0]: (0, 0)}
    taken = {(0, 0)}
    facts = []
    for room in rooms[1:]:
        while True:
            near = rng.choice(list(cells))
            direction = rng.choice(DIRECTIONS)
            x, y = cells[near]
            cell = (x + step[direction][0], y + step[direction][1])
            if cell not in taken:
                break
        cells[room] = cell
        taken.add(cell)
        if rng.random() < 0.5:
            facts.append(Fact("relation", room=room, direction=direction, near=near))
        else:
            facts.append(Fact("relation", room=near, direction=OPPOSITE[direction], near=room))
    world = World()
    for fact in facts:
        world.apply(fact)
    fact = rng.choice(facts)
    if rng.random() < 0.5:
        question = Question("room_in_direction", room=fact.near, direction=fact.direction)
    else:
        question = Question("direction_of_room", room=fact.room, direction=fact.direction)
    answer, support = world.answer(question)
    if answer is None:  # cannot happen on a grid; a draw is retried rather than trusted
        raise BudgetError("qa4: the layout gave the question no single answer; draw again")
    return Story(facts, question, answer, support, _labels(facts, question))


def _labels(facts: list[Fact], question: Question) -> list[str]:
    """The words of the answer's kind the story uses (rooms, people or things), in order of first use,
    less the ones the question names (a reply may repeat those: BABILong's metric ignores them too)."""
    kind = QUESTIONS[question.kind]
    fields = {"room": ("room", "near"), "person": ("person", "other"), "thing": ("thing",)}[kind]
    seen: dict[str, None] = {}
    for fact in facts:
        for name in fields:
            value = getattr(fact, name)
            if value:
                seen[value] = None
    return [w for w in seen if w not in question.entities()]
