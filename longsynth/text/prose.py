"""Built-in generated prose: a deterministic, offline stand-in for an essay haystack.

RULER fills its haystack with essays; we cannot ship those, and a network
download breaks offline builds. Instead a small grammar writes plain
narrative sentences about towns, trades, weather and travel. It is varied
enough that no two neighbouring sentences repeat, reads like ordinary prose
so a needle sentence does not stand out by style, and contains no digits, so
a number answer can never occur in the haystack by accident.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

_PEOPLE = [
    "the baker",
    "the ferryman",
    "a young clerk",
    "the old carpenter",
    "my neighbour",
    "the schoolteacher",
    "a travelling painter",
    "the harbour master",
    "the gardener",
    "a quiet student",
    "the weaver",
    "the village doctor",
    "an apprentice mason",
    "the innkeeper",
    "a shepherd",
    "the librarian",
    "the miller's daughter",
    "a retired sailor",
    "the blacksmith",
    "the postman",
]
_PLACES = [
    "the market square",
    "the river bank",
    "the long road north",
    "the upper meadow",
    "the harbour",
    "the library",
    "the workshop",
    "the orchard",
    "the chapel yard",
    "the railway platform",
    "the bridge",
    "the narrow lane behind the inn",
    "the hill above the town",
    "the reading room",
    "the covered market",
    "the old quarry",
    "the mill pond",
    "the coast path",
]
_THINGS = [
    "a basket of pears",
    "the morning letters",
    "a borrowed ladder",
    "a map of the valley",
    "a jar of honey",
    "the broken clock",
    "a bundle of firewood",
    "an unfinished drawing",
    "a pair of boots",
    "the ledger",
    "a loaf of rye bread",
    "a coil of rope",
    "a lantern",
    "a box of seeds",
    "the spare key",
    "a wool blanket",
    "a small wooden boat",
    "a book of poems",
]
_WEATHER = [
    "the wind turned cold",
    "a light rain began to fall",
    "the fog lifted from the water",
    "the sun came out over the rooftops",
    "clouds gathered in the west",
    "the air smelled of cut grass",
    "frost covered the fields",
    "the evening grew warm and still",
    "thunder rolled far away",
    "snow settled on the hedges",
]
_TIMES = [
    "Early in the morning",
    "Later that afternoon",
    "By the end of the week",
    "Just before dusk",
    "On the first day of spring",
    "Late in the season",
    "Soon after breakfast",
    "That same evening",
    "In the middle of winter",
    "Towards the end of summer",
    "Once the bells had rung",
]
_VERBS_PAST = [
    "carried",
    "repaired",
    "found",
    "sold",
    "painted",
    "delivered",
    "examined",
    "wrapped",
    "hid",
    "returned",
    "measured",
    "polished",
    "traded",
    "sketched",
    "packed",
]
_FEELINGS = [
    "pleased",
    "tired",
    "curious",
    "uneasy",
    "hopeful",
    "restless",
    "proud",
    "content",
    "puzzled",
    "grateful",
]
_IDEAS = [
    "patience matters more than speed",
    "good tools are worth their price",
    "most plans change once the work begins",
    "a town is only as strong as its roads",
    "old habits are hard to break",
    "small repairs save large costs",
    "every trade has its quiet season",
    "people remember kindness longer than advice",
    "the weather decides more than we admit",
    "a careful record prevents many quarrels",
    "learning a craft takes years of practice",
]

_FRAMES = [
    "{time}, {person} {verb} {thing} to {place}.",
    "{Person} walked slowly along {place} while {weather}.",
    "Nobody in town could say why {person} had {verb} {thing}.",
    "At {place}, {person} stopped to talk about the harvest.",
    "{Person} often said that {idea}.",
    "{time}, {weather}, and {person} went home early.",
    "It is often said that {idea}, and {person} seemed to agree.",
    "{Person} felt {feeling} after a long day at {place}.",
    "The path to {place} was crowded, so {person} took the longer way.",
    "{Person} kept {thing} on a shelf near the window.",
    "When {weather}, {person} closed the shutters and lit the stove.",
    "Visitors to {place} rarely noticed {thing} left by the gate.",
    "{Person} and {person2} argued for an hour about {thing}.",
    "{time}, the talk at {place} was all about {person}.",
    "Some believe that {idea}, though {person} was never sure.",
    "{Person} looked {feeling} when {person2} arrived with {thing}.",
    "Few things were as quiet as {place} after {weather}.",
    "{Person} had {verb} {thing} twice before anyone noticed.",
    "{time}, {person2} asked {person} for {thing}.",
    "There was little to do at {place}, and {person} did not mind.",
]


def _fill(frame: str, rng: random.Random) -> str:
    person = rng.choice(_PEOPLE)
    person2 = rng.choice([p for p in _PEOPLE if p != person])
    text = frame.format(
        time=rng.choice(_TIMES),
        person=person,
        Person=person[0].upper() + person[1:],
        person2=person2,
        place=rng.choice(_PLACES),
        thing=rng.choice(_THINGS),
        verb=rng.choice(_VERBS_PAST),
        weather=rng.choice(_WEATHER),
        feeling=rng.choice(_FEELINGS),
        idea=rng.choice(_IDEAS),
    )
    return text[0].upper() + text[1:]


def frame_stream(frames: list[str], fill, seed: int) -> Iterator[str]:
    """Sentences from sentence frames without end: a seeded frame each time (never the same one twice
    in a row), filled by `fill(frame, rng)`. Any prefix is the same text however far it is read (pools
    grow by reading on). The Chinese prose (`prose_zh`) is written this way too."""
    rng = random.Random(seed)
    last_frame = -1
    while True:
        frame = rng.randrange(len(frames))
        if frame == last_frame:
            frame = (frame + 1 + rng.randrange(len(frames) - 1)) % len(frames)
        last_frame = frame
        yield fill(frames[frame], rng)


def prose_stream(seed: int = 0) -> Iterator[str]:
    """Generated prose, one sentence after another without end."""
    return frame_stream(_FRAMES, _fill, seed)


def prose_sentences(count: int, seed: int = 0) -> list[str]:
    """`count` sentences of generated prose; the same (count, seed) always gives the same text."""
    return list(itertools.islice(prose_stream(seed), count))
