"""Word lists written for longsynth: 133 adjectives and 122 nouns, for the titles of holobench's
built-in databases ("Amber Falcon Harbor"). Needle keys use a far larger vocabulary
(`generators/needle/keys.py`)."""

ADJECTIVES = """
able amber ancient angry arctic autumn awake bold brave breezy bright brisk
bronze busy calm candid careful cheerful chilly clever cloudy coastal cobalt
cosmic cozy crimson crisp curious dainty daring dawn deep distant dusty eager
early earnest electric elegant emerald famous fancy fearless fierce fluffy
foggy fragrant frosty gentle giant gilded glad glassy golden graceful grand
green hasty hazel hidden hollow honest humble icy idle ivory jade jolly jovial
keen kind lanky lavish lazy lemon little lively loyal lucky lunar mellow merry
mighty misty modest mossy nimble noble odd olive orange patient plucky polite
proud quick quiet rapid rare rosy royal rustic sandy scarlet shady shiny silent
silver simple sleepy slim smooth snowy solar sturdy sunny swift tall tame tidy
tiny topaz velvet violet vivid wandering warm wild windy wise witty young zesty
""".split()

NOUNS = """
acorn anchor antler apple arrow aspen badger banjo barley beacon beetle birch
bison blossom bottle bramble bridge brook bucket cactus camel candle canyon
cedar cherry cloud clover comet compass copper coral cricket crystal daisy
delta desert dolphin dragon drum eagle ember engine falcon feather fern fiddle
finch forest fossil fox galaxy garden geyser ginger glacier goose granite
harbor hawk hazelnut heron hill island ivy jaguar kettle kite ladder lagoon
lantern lemur lily lizard maple marble meadow mirror moose mountain nectar
nutmeg oak oasis orchid otter owl paddle panda parrot pebble pepper pine
planet pony prairie quail quartz rabbit raven reef river robin saddle salmon
sparrow spruce squirrel summit swan thistle thunder tiger trout tulip turtle
valley violin walnut whale willow wolf zebra
""".split()

assert len(set(ADJECTIVES)) == len(ADJECTIVES) and len(set(NOUNS)) == len(NOUNS)
