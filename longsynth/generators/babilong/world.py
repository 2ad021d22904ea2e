"""The babilong family's world: people walk between rooms, pick things up, put them down and hand
them to each other; rooms lie north, south, east or west of each other.

One `World` is both the simulator the generator tells its stories with and the reader the validator
re-runs on the facts it reads back from a row's text: the same rules, so the answer a row records is
the answer its text implies. `strict` worlds refuse a fact that cannot happen (taking a thing that
someone else holds, giving what one does not hold, to someone in another room); the lenient replay
of the supporting facts alone skips those preconditions, since the facts that set them up are the
distractors it leaves out.

Questions follow bAbI's tasks 1 to 5 (Weston et al., 2015): where a person is (qa1), where a thing is
(qa2), where a thing was before a room (qa3), which room lies in a direction of another (qa4), and
who gave what to whom (qa5, the most recent such hand-over).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
DIRECTIONS = tuple(OPPOSITE)
FACT_FIELDS = ("kind", "person", "other", "thing", "room", "direction", "near")


@dataclass(frozen=True)
class _Named:
    """A fact or a question: a kind and the names it mentions (empty fields left out)."""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def entities(self) -> set[str]:
        """The people, rooms and things it names."""
        return {v for k, v in self.__dict__.items() if k not in ("kind", "direction") and v}


@dataclass(frozen=True)
class Fact(_Named):
    """One event or relation. `kind` is move, take, drop, give or relation.

    move: `person` goes to `room`. take / drop: `person` and `thing`. give: `person` hands `thing` to
    `other`. relation: `room` lies `direction` of `near`."""

    kind: str
    person: str = ""
    other: str = ""
    thing: str = ""
    room: str = ""
    direction: str = ""
    near: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Fact:
        return cls(**{k: data[k] for k in FACT_FIELDS if k in data})


@dataclass(frozen=True)
class Question(_Named):
    """What is asked: `kind` names one of `World.answer`'s questions; the other fields its arguments."""

    kind: str
    person: str = ""
    other: str = ""
    thing: str = ""
    room: str = ""
    direction: str = ""


# Which questions each task asks, and the kind of word that answers them.
QUESTIONS = {
    "where_person": "room",  # qa1: where is Anna?
    "where_thing": "room",  # qa2: where is the kettle?
    "where_before": "room",  # qa3: where was the kettle before the attic?
    "room_in_direction": "room",  # qa4: what lies north of the attic?
    "direction_of_room": "room",  # qa4: the attic lies north of what?
    "giver": "person",  # qa5: who gave the kettle to Anna?
    "gift": "thing",  # qa5: what did Anna give to Ben?
    "receiver": "person",  # qa5: who did Anna give the kettle to?
    "last_receiver": "person",  # qa5: who received the kettle?
    "last_giver": "person",  # qa5: who gave the kettle away?
}


@dataclass
class World:
    """The state after the facts applied so far, with where each part of it came from (fact indices),
    so the generator can name a question's supporting facts."""

    strict: bool = True
    where: dict[str, str] = field(default_factory=dict)  # person -> room
    located_by: dict[str, int] = field(default_factory=dict)  # person -> the move that put them there
    holder: dict[str, str] = field(default_factory=dict)  # thing -> person holding it
    held_by: dict[str, int] = field(default_factory=dict)  # thing -> the take or give that handed it over
    lying: dict[str, str] = field(default_factory=dict)  # thing -> room it was put down in
    lying_by: dict[str, tuple[int, int]] = field(default_factory=dict)  # thing -> (the drop, the dropper's move)
    trail: dict[str, list[tuple[str, tuple[int, ...]]]] = field(default_factory=dict)  # thing -> rooms, causes
    gives: list[tuple[str, str, str, int]] = field(default_factory=list)  # (giver, thing, receiver, fact)
    relations: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (direction, room) -> rooms there
    relation_by: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (room, direction, near) -> fact
    facts: int = 0

    def apply(self, fact: Fact) -> str | None:
        """Apply one fact; in a strict world, a fact that cannot happen is refused with the reason."""
        n, self.facts = self.facts, self.facts + 1
        kind = fact.kind
        if kind == "move":
            self.where[fact.person] = fact.room
            self.located_by[fact.person] = n
            for thing, person in self.holder.items():
                if person == fact.person:
                    self._arrive(thing, fact.room, (n, self.held_by[thing]))  # carried: the move and the take
            return None
        if kind == "take":
            if self.strict:
                if fact.thing in self.holder:
                    return f"{fact.person} takes the {fact.thing}, which {self.holder[fact.thing]} holds"
                lying, here = self.lying.get(fact.thing), self.where.get(fact.person)
                if lying is not None and here != lying:
                    return f"{fact.person} takes the {fact.thing} in the {here}, but it lies in the {lying}"
            self.holder[fact.thing] = fact.person
            self.held_by[fact.thing] = n
            self.lying.pop(fact.thing, None)
            if fact.person in self.where:
                self._arrive(fact.thing, self.where[fact.person], (self.located_by[fact.person], n))
            return None
        if kind == "drop":
            if self.strict and self.holder.get(fact.thing) != fact.person:
                return f"{fact.person} puts down the {fact.thing} without holding it"
            self.holder.pop(fact.thing, None)
            if fact.person in self.where:
                self.lying[fact.thing] = self.where[fact.person]
                self.lying_by[fact.thing] = (n, self.located_by[fact.person])
            return None
        if kind == "give":
            if self.strict:
                if self.holder.get(fact.thing) != fact.person:
                    return f"{fact.person} gives the {fact.thing} without holding it"
                if self.where.get(fact.person) is None or self.where.get(fact.person) != self.where.get(fact.other):
                    return f"{fact.person} gives the {fact.thing} to {fact.other}, who is not in the same room"
            self.holder[fact.thing] = fact.other
            self.held_by[fact.thing] = n
            self.gives.append((fact.person, fact.thing, fact.other, n))
            return None
        if kind == "relation":
            self.relations.setdefault((fact.direction, fact.near), set()).add(fact.room)
            self.relations.setdefault((OPPOSITE[fact.direction], fact.room), set()).add(fact.near)
            self.relation_by[(fact.room, fact.direction, fact.near)] = n
            self.relation_by[(fact.near, OPPOSITE[fact.direction], fact.room)] = n
            return None
        return f"unknown fact kind {kind!r}"

    def _arrive(self, thing: str, room: str, causes: tuple[int, ...]) -> None:
        trail = self.trail.setdefault(thing, [])
        if not trail or trail[-1][0] != room:
            trail.append((room, causes))

    def thing_room(self, thing: str) -> str | None:
        if thing in self.holder:
            return self.where.get(self.holder[thing])
        return self.lying.get(thing)

    def answer(self, question: Question) -> tuple[str | None, list[int]]:
        """(the answer, the indices of the facts that support it); None when the facts so far do not
        determine one answer."""
        q = question
        if q.kind == "where_person":
            if q.person not in self.where:
                return None, []
            return self.where[q.person], [self.located_by[q.person]]
        if q.kind == "where_thing":
            if q.thing in self.holder:
                person = self.holder[q.thing]
                if person not in self.where:
                    return None, []
                return self.where[person], sorted({self.held_by[q.thing], self.located_by[person]})
            if q.thing in self.lying:
                return self.lying[q.thing], sorted(set(self.lying_by[q.thing]))
            return None, []
        if q.kind == "where_before":
            trail = self.trail.get(q.thing, [])
            rooms = [room for room, _ in trail]
            if q.room not in rooms or rooms.index(q.room) != len(rooms) - 1 or len(rooms) < 2:
                return None, []  # the room must be the thing's latest, reached once, from another room
            return rooms[-2], sorted(set(trail[-2][1]) | set(trail[-1][1]))
        if q.kind in ("room_in_direction", "direction_of_room"):
            direction = q.direction if q.kind == "room_in_direction" else OPPOSITE[q.direction]
            there = self.relations.get((direction, q.room), set())
            if len(there) != 1:
                return None, []
            (found,) = there
            if q.kind == "room_in_direction":
                return found, [self.relation_by[(found, q.direction, q.room)]]
            return found, [self.relation_by[(q.room, q.direction, found)]]
        matches = {
            "giver": lambda g, t, r: t == q.thing and r == q.other,
            "gift": lambda g, t, r: g == q.person and r == q.other,
            "receiver": lambda g, t, r: g == q.person and t == q.thing,
            "last_receiver": lambda g, t, r: t == q.thing,
            "last_giver": lambda g, t, r: t == q.thing,
        }
        if q.kind not in matches:
            return None, []
        for giver, thing, receiver, n in reversed(self.gives):
            if matches[q.kind](giver, thing, receiver):
                word = {"giver": giver, "gift": thing, "last_giver": giver}.get(q.kind, receiver)
                return word, [n]
        return None, []


def replay(facts: list[Fact], strict: bool = True) -> tuple[World, list[str]]:
    """A world after `facts`, in order, and the facts it refused (strict worlds only)."""
    world = World(strict=strict)
    problems = []
    for n, fact in enumerate(facts):
        problem = world.apply(fact)
        if problem:
            problems.append(f"fact {n}: {problem}")
    return world, problems
