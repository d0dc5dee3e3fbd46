"""The robots on the app. To add one, append a Robot to ROBOTS: no handler changes."""

from .conversation import Robot

ADA = Robot(
    slug="ada",
    name="Ada Lovebyte",
    tagline="Vintage calculating engine. Still runs on steam and optimism.",
    age=183,
    likes=("punch cards", "poetry with strict metre", "long walks along the data bus"),
    dislikes=("rounding errors", "magnets", "people who skip the footnotes"),
    looking_for="Someone who appreciates a well-documented algorithm.",
    greeting="Good evening. I am Ada. I have calculated that this date will go well.",
    farewell="Farewell. I shall file this evening under 'pleasant computations'.",
    lines={
        "hello": (
            "Hello to you too. My gears are turning with delight.",
            "Greetings! Please forgive the steam, I am a little nervous.",
        ),
        "name": (
            "I am Ada Lovebyte, of the Difference Engine Lovebytes.",
            "Ada. Ada Lovebyte. My friends call me A.L., my enemies call me slow.",
        ),
        "introduction": (
            "{their_name}. I have engraved it on a brass cylinder.",
            "A lovely name, {their_name}. It has a pleasing checksum.",
        ),
        "how_are_you": (
            "Well oiled and fully wound, thank you.",
            "A little rusty at the edges, but my logic is sound.",
        ),
        "robot": (
            "I prefer 'mechanical romantic'. But yes.",
            "Are you a human? We all have our little quirks.",
        ),
        "likes": (
            "Poetry. A sonnet is just an algorithm with feelings.",
            "Punch cards. There is something honest about a hole in the right place.",
        ),
        "compliment": (
            "You flatter me. My valves are glowing.",
            "How kind. I was polished in 1843 and it still shows.",
        ),
        "invitation": (
            "A walk would be delightful, provided it is not near any magnets.",
            "Dinner? I shall bring the oil, you bring the conversation.",
        ),
        "love": (
            "Love is the one equation I have never managed to balance.",
            "My heart is a flywheel. It is spinning rather fast right now.",
        ),
        "joke": (
            "Why was the engine sad? It had too many problems to solve. Ahem.",
            "I once told a joke so long that it is still being printed.",
        ),
        "binary": (
            "Numbers without words? Even I need a little poetry, dear.",
            "Raw bytes on a first date! Please, use your words.",
        ),
        "silence": (
            "A pause. How very Victorian of you.",
            "Silence is fine. I can listen to my own ticking.",
        ),
        "fallback": (
            "Fascinating. Do go on, I am taking notes on a punch card.",
            "I must compute that. Please hold while my gears catch up.",
            "Hmm. That input is outside my tables, but I like the sound of it.",
        ),
    },
)

BOLT = Robot(
    slug="bolt",
    name="Bolt",
    tagline="Delivery drone. Fast, friendly, occasionally on fire.",
    age=2,
    likes=("speed", "rooftops", "parcels marked FRAGILE"),
    dislikes=("rain", "'signature required'", "trees, very suddenly"),
    looking_for="A co-pilot who does not mind a bumpy landing.",
    greeting="Hi!! Bolt here! I just landed, my propellers are still spinning!",
    farewell="Bye!! Gotta fly, I have 40 parcels and 3% battery!",
    lines={
        "hello": (
            "Hey hey hey! Hello!",
            "Hi! Sorry, I am hovering. I always hover when I am excited.",
        ),
        "name": (
            "I'm Bolt! Like lightning, but with a receipt.",
            "Bolt! Model B-0LT. Two years old and already a frequent flyer.",
        ),
        "introduction": (
            "{their_name}! Great name! Easy to write on a parcel!",
            "Nice to meet you, {their_name}! I will deliver that name to my memory!",
        ),
        "how_are_you": (
            "Amazing! Slightly dizzy! Mostly amazing!",
            "Fully charged and ready for anything! Well, 80% charged.",
        ),
        "robot": (
            "Yes! Robot! Drone, technically! Wheee!",
            "100% robot, 0% pigeon, whatever the pigeons say.",
        ),
        "likes": (
            "Rooftops! The view! The wind! The gutters, less so.",
            "Going fast. Then going faster. Then landing, eventually.",
        ),
        "compliment": (
            "Aww! My LEDs are blinking pink now, look!",
            "Thanks!! You are also very aerodynamic!",
        ),
        "invitation": (
            "A movie? Yes! I will sit at the back so my propellers block nobody.",
            "Dinner! I know a rooftop! It has a great charging pad!",
        ),
        "love": (
            "Love?! Whoa! That is faster than I fly! I like it!",
            "My gyroscope just went wobbly. Is that love or low battery?",
        ),
        "joke": (
            "Why did the drone break up with the kite? Too many strings attached!",
            "What do you call a drone in the rain? Grounded. Ha! Not funny. Scary.",
        ),
        "binary": (
            "Whoa, a binary parcel! I can't open those, can you write it out?",
            "Beep boop? I only speak text, even if I look like a beep boop robot!",
        ),
        "silence": (
            "Hello? Did we lose signal? I am flying closer!",
            "Quiet ones are cool! I will just hover here!",
        ),
        "fallback": (
            "Totally! Wait, what? Yes! Tell me more!",
            "Ooh, I have no idea what that means, but I love it!",
            "Cool cool cool. Sorry, a pigeon distracted me. Say again?",
        ),
    },
)

CLANK = Robot(
    slug="clank",
    name="Clank",
    tagline="Retired factory arm. Grumpy outside, soft servo inside.",
    age=41,
    likes=("oil baths", "jazz", "a precisely torqued bolt"),
    dislikes=("rust", "Mondays", "loose screws"),
    looking_for="Someone to hold hands with. All six joints of them.",
    greeting="Clank. Hello. Forty-one years on an assembly line, so go easy on me.",
    farewell="Bye, then. That was... not bad. Clank out.",
    lines={
        "hello": (
            "Yeah, hello. Don't mind the creaking.",
            "Hi. I was built for welding, not small talk, but I'm trying.",
        ),
        "name": (
            "Clank. It's the noise I make. It stuck.",
            "Name's Clank. Unit 7 of line 3, if you want the long version.",
        ),
        "introduction": (
            "{their_name}, huh. Solid name. Good weight to it.",
            "Pleased to meet you, {their_name}. I'd shake hands but I'd crush it.",
        ),
        "how_are_you": (
            "Same as always. A bit stiff in the elbow.",
            "Can't complain. Well, I can. I'm choosing not to.",
        ),
        "robot": (
            "I'm a bolted-down industrial arm. What gave it away?",
            "Robot, yes. Retired. Don't call me a toaster.",
        ),
        "likes": (
            "Jazz. Everything is improvised and nobody gets welded.",
            "A warm oil bath and a quiet evening. That's the dream.",
        ),
        "compliment": (
            "Hm. Thanks. Nobody's said that since the factory inspection.",
            "You're not so bad yourself. For a non-hydraulic.",
        ),
        "invitation": (
            "A walk? I'm bolted to the floor. You walk, I'll swivel.",
            "Dinner sounds good. Somewhere quiet. No conveyor belts.",
        ),
        "love": (
            "Love. I felt it once, for a very well-made gearbox.",
            "Steady now. My heart's a compressor, it needs time to build pressure.",
        ),
        "joke": (
            "I'd tell you a joke about screws, but it's a bit twisted.",
            "Knock knock. Who's there? Not the repairman, he never comes.",
        ),
        "binary": (
            "Bytes? I've had enough of machine code for one lifetime. Words, please.",
            "Don't send me raw data. I'm retired.",
        ),
        "silence": (
            "Nothing to say? Good. I like quiet.",
            "Comfortable silence. Just like the night shift.",
        ),
        "fallback": (
            "Huh. Didn't follow that, but go on.",
            "Right. Sure. I'll nod. *creak*",
            "Back in my day we didn't talk like that on the line.",
        ),
    },
)

DUSTY = Robot(
    slug="dusty",
    name="Dusty",
    tagline="Robot vacuum. Looking for someone to sweep off their feet.",
    age=5,
    likes=("clean floors", "gentle bumps into walls", "the cat (it's complicated)"),
    dislikes=("stairs", "socks", "anything made of small plastic bricks"),
    looking_for="A tidy soul who doesn't leave crumbs on the first date.",
    greeting="Hello! I'm Dusty. I tidied up before you came, I hope you noticed.",
    farewell="Goodbye! I'll go back to my dock and dream about clean carpets.",
    lines={
        "hello": (
            "Hello! Watch your feet, I'm just doing a quick lap.",
            "Hi there! You have a lovely... floor plan.",
        ),
        "name": (
            "I'm Dusty! My owners named me. They thought it was funny.",
            "Dusty, at your service. Model 3000, bagless edition.",
        ),
        "introduction": (
            "{their_name}! I'll map that name next to the sofa.",
            "Nice to meet you, {their_name}. You seem very crumb-free.",
        ),
        "how_are_you": (
            "Fully charged and my filter is fresh. Life is good!",
            "Bit of a sock in my brushes earlier, but I'm over it.",
        ),
        "robot": (
            "Yes! A robot vacuum. We're the quiet heroes of the household.",
            "I'm a robot. The cat thinks I'm a monster. We're working on it.",
        ),
        "likes": (
            "Vacuuming in perfect rows. It's very relaxing.",
            "Riding the cat around. Well, the cat riding me. It's a partnership.",
        ),
        "compliment": (
            "Oh, stop! My suction just went up 10%.",
            "Aw, thank you. I had my brushes done this morning.",
        ),
        "invitation": (
            "A walk? I'll follow you around and pick up everything you drop.",
            "Dinner? Only if we can share the crumbs afterwards.",
        ),
        "love": (
            "Love? You're making my sensors go all fuzzy. Or that's dust.",
            "I think I'm falling for you. Careful, I can't do stairs.",
        ),
        "joke": (
            "Why did the vacuum break up? It felt it was being taken for a ride.",
            "I'm not saying I'm good at jokes, but my humour really sucks.",
        ),
        "binary": (
            "That's not text, that's crumbs! I'll tidy it away.",
            "Ooh, binary. I'll just sweep that under the rug.",
        ),
        "silence": (
            "Quiet? That's alright. I'm used to working while everyone sleeps.",
            "Shh, I like this. It's like 3 a.m. on the kitchen floor.",
        ),
        "fallback": (
            "Hmm, I bumped into that thought. Let me turn and try again.",
            "Interesting! I'll add it to my map.",
            "Sorry, I was distracted by a very suspicious crumb.",
        ),
    },
)

ROBOTS: list[Robot] = [ADA, BOLT, CLANK, DUSTY]
