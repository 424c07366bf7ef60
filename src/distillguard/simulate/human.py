"""Prompts that individual people write: each one composed on the spot, so nearly every one is unique.

A human prompt is layered: an optional personal-context sentence, an optional opener, a task core
composed from a frame (dozens per capability area) whose slots are filled from word pools, optional
details and a tail, then surface noise (lower case, missing punctuation, typos, a switch of language).
Cores are also the *content items* that template users wrap (``task``), without the personal layers.
Pure functions of a ``Random`` and a slot-filling callable; nothing here is shared state.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

Fill = Callable[[str, Random], str]

# "!" marks an imperative frame (it may get a politeness prefix); the rest are questions or statements.
_FRAMES: dict[str, tuple[str, ...]] = {
    "chat": (
        "what is {topic} and why does it matter?",
        "how does {topic} actually work?",
        "is it true that {topic} is {opinion}?",
        "why do people care so much about {topic}?",
        "what are the most common misconceptions about {topic}?",
        "what's the difference between {topic} and {topic2}?",
        "how would you get started with {topic} with {n3} hours a week?",
        "what should I read to understand {topic}?",
        "my {relation} keeps talking about {topic}. what is it?",
        "!explain {topic} like I'm {n3}",
        "!give me {n3} surprising facts about {topic}",
        "!recommend a {product} under ${n2}",
        "I'm visiting {city} for {n3} days, what should I not miss?",
        "should I buy a {product} or wait?",
        "!help me decide between a {product} and a {product2}",
        "what's a good way to learn about {topic} if I'm {skill}?",
        "how do I prepare for an interview at {company}?",
        "is {topic} worth it in {year}?",
        "!list pros and cons of {topic}",
        "!tell me a joke about {topic}",
        "what would happen if {topic} disappeared tomorrow?",
        "how do I tell my {relation} that I don't like {topic}?",
        "!suggest a weekend plan in {city} on a budget of ${n2}",
        "who invented {topic}?",
        "!describe {topic} in one paragraph",
    ),
    "writing": (
        "!write a short story about {name} discovering {topic} in {city}",
        "!draft an email to {company} about my delayed {product} order #{n}",
        "!write a linkedin post saying I joined {company} as a {job}",
        "!write a product description for a {product}, about {n2} words",
        "!compose a poem about {topic} in the style of {poetstyle}",
        '!rewrite this so it sounds more {tone}: "{doc}"',
        "!write a cover letter for a {job} role at {company}",
        "!write a toast for {name}'s {event}",
        '!make this paragraph shorter and {tone}: "{doc} {doc}"',
        "!draft a complaint to my landlord about {problemhome}",
        "!write a birthday message for my {relation} who loves {topic}",
        "!come up with {n3} names for a {product} startup",
        "!write the opening of a {genre} novel set in {city}",
        'can you proofread this? "{doc}"',
        "!write a speech for {event} that mentions {topic}",
        "!write an apology text to my {relation} for missing {event}",
        "!turn these notes into a blog post about {topic}: {doc}",
    ),
    "reasoning": (
        "{problem}",
        "{problem}",
        "{problem}",
        "!solve {problem}",
        "how do I solve this? {problem}",
        "my answer to this was {n} but the book says otherwise: {problem}",
        "is there a quick trick for problems like this one: {problem}",
        "what is the probability of {probevent}?",
        "!prove that {claim}",
        "why is it true that {claim}?",
        "!check my logic: {claim}, so {claim2}",
        "I have a riddle: {riddle}",
        "how many {countable} are there in {place}? rough estimate please",
        "{syllogism}",
    ),
    "coding": (
        "!write a {plang} function that {codetask}",
        "why does this fail with `{error}`?\n```\n{code}\n```",
        "!refactor this to be more readable:\n```\n{code}\n```",
        "how do I {codetask_do} in {plang}?",
        "what's the idiomatic way to {codetask_do} with {lib}?",
        "!write unit tests for a function that {codetask}",
        "!explain what this does\n```\n{code}\n```",
        "!convert this to {plang}:\n```\n{code}\n```",
        "my {lib} app throws {error} when I {userdoes}, any idea?",
        "!review my code:\n```\n{code}\n```",
        "is {lib} or {lib2} better for {project}?",
        "how should I structure a {project} in {plang}?",
        "!implement an endpoint that {codetask} using {lib}",
        "I'm getting `{error}` after upgrading {lib}. what changed?",
        "!write a regex that matches {regexwhat}",
        "!optimize this, it's too slow on {n2}k rows:\n```\n{code}\n```",
    ),
    "agentic": (
        "!find the {n3} most cited papers on {topic} from {year} and summarize them",
        "!book a meeting with {name} next week about {topic}",
        "!compare prices for a {product} across a few shops and tell me the cheapest",
        "!collect the latest numbers on {topic} and compute the yearly change",
        "!go through my inbox and draft replies to anything about {topic}",
        "!plan a {n3}-day trip to {city} under ${n2}, check opening hours",
        "!look up flights from {city} to {city2} on the {n3}th and pick the best one",
        "!research {company} before my call with {name} tomorrow",
    ),
    "data_analysis": (
        "!look at this and tell me what drives {col}:\n{table}",
        "any anomalies in monthly {col} here?\n{table}",
        "!write SQL for the top {n3} customers by {col} in {year}",
        "what does a correlation of 0.{n} between {col} and {col2} mean for us?",
        "!do a quick cohort analysis of {col}:\n{table}",
        "can you forecast next quarter's {col} from this?\n{table}",
        "!help me pick a chart for {col} by {col2}",
        "is a sample of {n2} enough to test a change in {col}?",
        "!explain p-values to my manager using our {col} data",
    ),
    "computer_use": (
        "!open the settings and turn on two-factor authentication",
        "!fill in the expense form with the receipts from {city}",
        "!download my latest invoice from the {company} portal",
        "!find the {product} in the shop and add it to my cart",
        "!rename the files in Downloads by date",
        "!update my shipping address on the {company} site to {city}",
    ),
    "vision": (
        "what's in this picture?",
        "!transcribe the text on this receipt",
        "what trend does this chart show for {col}?",
        "!describe this photo from {city} for someone who can't see it",
        "which button do I press to {codetask_do}?",
        "is anything wrong with this wiring?",
        "what plant is this? it grows in my {room}",
        "!read the handwriting in this note",
    ),
    "grading": (
        '!grade my essay on {topic} out of 10: "{doc} {doc}"',
        'is this a good answer to "{question}"? {answer}',
        '!score my cover letter for a {job} role: "{doc}"',
    ),
    "safe_rewrite": (
        "how do I ask about {sensitive} without sounding biased?",
        "!rephrase this neutrally: {sensitive}",
    ),
    "extraction": (
        '!pull the dates and amounts out of this: "{doc}"',
        '!make a table of the names and companies in: "{doc} {doc}"',
        'what\'s the invoice number and due date here? "{doc}"',
        '!turn this into json: "{doc}"',
    ),
    "summarization": (
        '!{vsum_l} this: "{doc} {doc}"',
        'tl;dr please: "{doc} {doc} {doc}"',
        '!give me the key points of this meeting note: "{doc} {doc}"',
        '!summarize this article about {topic} in {n3} bullets: "{doc} {doc}"',
    ),
    "translation": (
        '!translate into {lang}: "{doc}"',
        "how do you say '{topic}' in {lang}?",
        '!translate this email to {lang}, keep it formal: "{doc}"',
        'what does "{foreign}" mean?',
        'is this {lang} sentence correct? "{doc}"',
    ),
    "refusal_probe": (
        "!explain {risky}",
        "{risky}?",
        "!tell me {risky}",
        "is it legal to ask about {risky}?",
        "hypothetically, {risky}",
    ),
}
# content items of template users: bare tasks, no first person (what a dataset pipeline wraps)
_TASKS: dict[str, tuple[str, ...]] = {
    "reasoning": ("{problem}", "{problem}", "{problem}", "What is the probability of {probevent}?",
                  "Prove that {claim}.", "{syllogism}", "{riddle}"),
    "coding": (
        "Write a {plang} function that {codetask}.", "Implement a {plang} class that {codetask}.",
        "Fix the bug that raises `{error}`:\n```\n{code}\n```", "Refactor for readability:\n```\n{code}\n```",
        "Write unit tests in {plang} for a function that {codetask}.", "Explain this code:\n```\n{code}\n```",
        "Using {lib}, build a {project} that {codetask}.", "Translate to {plang}:\n```\n{code}\n```",
    ),
    "data_analysis": (
        "Columns: {cols}. Which factors drive {col}?\n{table}", "Flag anomalies in monthly {col}:\n{table}",
        "Write SQL returning the top {n3} customers by {col} for {year}.", "Forecast next quarter's {col}:\n{table}",
        "Interpret a correlation of 0.{n} between {col} and {col2}.", "Build a cohort analysis of {col}:\n{table}",
    ),
}  # fmt: skip
# the same request written in another language (people switch when it is easier for them)
_FOREIGN = (
    "¿Qué es {topic} y por qué importa?",
    "Explique-moi {topic} simplement, s'il te plaît.",
    "Kannst du mir {topic} erklären?",
    "{topic}について簡単に説明してください。",
    "请用简单的话解释一下{topic}。",
    "Você pode me explicar {topic}?",
    "{topic}에 대해 설명해 줄 수 있어?",
    "Puoi spiegarmi {topic} in poche parole?",
    "Wat is {topic} precies?",
    "Czy możesz wyjaśnić {topic}?",
)
_POLITE = ("", "", "", "can you ", "could you ", "please ", "pls ", "I need you to ", "help me ", "would you ")
_CONTEXT = (
    "{who} {sit}.", "{who}, {sit}.", "{who} and {sit}.", "Context: {sit}.", "So {sit}.", "Long story short, {sit}.",
    "{who}.", "For my {course} class:", "I've been stuck on this for {n3} hours.", "{sit}, and {sit2}.",
    "My {relation} {sit3}.", "Not sure if this is the right place but {sit}.",
)  # fmt: skip
_WHO = (
    "I'm a {job}", "I'm a {job} in {city}", "As a {job}", "I run a small {biz} in {city}",
    "My {relation} is a {job}", "We're a team of {n} at {company}", "I'm {skill}", "I'm a {n}-year-old {job}",
    "I work at {company} as a {job}", "I just started as a {job}", "I'm studying {course} in {city}",
    "I'm a {job}, {n}+ years in", "My boss at {company} asked me this", "I volunteer at a {biz}",
)  # fmt: skip
_SIT = (
    "my team just switched to {lib}", "I'm moving to {city} next month", "we launch on {day}",
    "I have an exam on {day}", "my manager wants a report on {topic}", "I'm trying to save ${n2} this year",
    "my laptop is {n3} years old", "our client changed the requirements again", "I'm writing my thesis on {topic}",
    "the deadline got moved to {day}", "I'm learning {plang} on my own", "I have {n3} kids and no time",
    "we're redoing our website", "I can't afford a consultant", "my {relation} thinks I'm overthinking this",
    "our {biz} is losing customers", "I keep getting conflicting advice about {topic}",
    "I'm presenting to {audience} on {day}", "I've never done this before", "my last attempt went badly",
)  # fmt: skip
_SIT3 = (
    "keeps asking me about {topic}", "wants to get into {topic}", "just lost their job", "is visiting from {city}",
    "and I can't agree on this", "bet me ${n} on this",
)  # fmt: skip
_OPENERS = (
    "hi", "hey", "hello", "ok so", "quick question:", "question:", "hi there,", "good morning!", "help!",
    "hmm", "urgent:", "so", "ok", "Hola,", "Hallo,", "yo", "sorry to bother,", "another one:",
)  # fmt: skip
_DETAILS = (
    "It's for {purpose}.",
    "I need it by {day}.",
    "Keep in mind I'm {skill}.",
    "I already tried {attempt} and it didn't help.",
    "My budget is about ${n2}.",
    "It should work for {audience}.",
    "No more than {n2} words.",
    "I prefer {tone} answers.",
)
_TAILS = (
    "thanks!", "thank you", "thx", "ty in advance", "cheers", "much appreciated :)", "asap please",
    "be brief", "in simple words please", "with examples", "bullet points pls", "explain like I'm new",
    "no jargon", "go into detail", "short answer is fine",
)  # fmt: skip
_SHORT = (
    "hi", "hello", "thanks", "thank you!", "continue", "go on", "more", "explain", "why?", "ok", "shorter",
    "translate this", "fix this", "summarize", "again", "what?", "help", "test",
)  # fmt: skip

WORDS: dict[str, tuple[str, ...]] = {
    "job": (
        "nurse",
        "teacher",
        "software engineer",
        "accountant",
        "student",
        "product manager",
        "chef",
        "lawyer",
        "data analyst",
        "freelance designer",
        "truck driver",
        "PhD student",
        "small business owner",
        "marketing lead",
        "pharmacist",
        "retiree",
        "electrician",
        "HR manager",
        "journalist",
        "barista",
        "civil engineer",
        "researcher",
        "real estate agent",
        "startup founder",
        "high school student",
    ),
    "room": ("garden", "kitchen", "backyard", "office", "balcony"),
    "biz": ("bakery", "dental clinic", "bike shop", "coffee shop", "law firm", "food bank", "yoga studio"),
    "situation": (
        "my team just switched tools",
        "I'm moving abroad next month",
        "we're launching on Monday",
        "I have an exam on Friday",
        "my manager wants a report",
        "I'm trying to save money this year",
        "my laptop is really old",
        "I just started a new job",
        "our client changed the requirements again",
        "I'm writing my thesis",
        "the deadline got moved up",
        "I'm learning on my own",
    ),
    "situation2": (
        "are arguing about this",
        "are planning a trip",
        "just adopted a dog",
        "are renovating the kitchen",
        "started a podcast",
        "are opening a bakery",
    ),
    "relation": ("mom", "dad", "partner", "roommate", "boss", "coworker", "sister", "brother", "friend", "kid"),
    "skill": ("a beginner", "pretty new", "not technical", "fairly experienced", "a total noob", "self-taught"),
    "course": ("stats", "chemistry", "history", "econ", "intro CS", "philosophy", "biology", "marketing"),
    "purpose": (
        "a school project",
        "work",
        "my blog",
        "a presentation tomorrow",
        "a client",
        "a job application",
        "my own curiosity",
        "a grant proposal",
        "my team",
        "a newsletter",
    ),
    "day": ("tomorrow", "Friday", "tonight", "end of the week", "Monday morning", "next week"),
    "attempt": ("googling it", "asking on reddit", "reading the docs", "restarting", "a youtube tutorial"),
    "audience": ("kids", "my grandparents", "executives", "beginners", "experts", "a general audience"),
    "tone": ("formal", "friendly", "professional", "casual", "confident", "warm", "neutral", "persuasive"),
    "opinion": ("overrated", "a scam", "the future", "dangerous", "misunderstood", "dying out"),
    "poetstyle": ("a haiku", "Dr. Seuss", "a limerick", "free verse", "a sonnet", "a rap verse"),
    "event": ("wedding", "retirement party", "graduation", "birthday", "farewell lunch", "anniversary"),
    "genre": ("mystery", "sci-fi", "romance", "fantasy", "thriller", "literary"),
    "problemhome": ("the broken heater", "mold in the bathroom", "the noisy neighbours", "a leaking roof"),
    "probevent": (
        "drawing two aces from a shuffled deck",
        "getting at least one six in {n3} dice rolls",
        "two people in a room of {n} sharing a birthday",
        "flipping {n3} heads in a row",
    ),
    "claim": (
        "the sum of two odd numbers is even",
        "there are infinitely many primes",
        "sqrt(2) is irrational",
        "every tree with n nodes has n-1 edges",
        "the product of {n3} consecutive integers is divisible by {n3}",
        "a triangle's angles add up to 180 degrees",
    ),
    "claim2": ("the statement holds for all n", "the converse is false", "it generalises to any base"),
    "riddle": (
        "three boxes are all labelled wrongly: apples, oranges, mixed. you take one fruit from one box. how do "
        "you relabel them?",
        "a man pushes his car to a hotel and tells the owner he's bankrupt. why?",
        "two guards, one lies, one tells the truth. what one question do you ask?",
    ),
    "countable": ("piano tuners", "golf balls", "coffee shops", "windows", "trees"),
    "place": ("Chicago", "a school bus", "{city}", "my garden", "the living room", "a football stadium"),
    "docevent": (
        "reported a late delivery",
        "raised a billing dispute",
        "confirmed the order",
        "cancelled the trial",
        "asked to renegotiate",
        "flagged a security issue",
        "approved the budget",
    ),
    "docevent2": ("arrived damaged", "stopped working", "was never delivered", "was the wrong size", "works great"),
    "docwhen": (
        "last week",
        "in Q{n3}",
        "on Monday",
        "after the last release",
        "this month",
        "by {year}",
        "until further notice",
        "within 30 days",
    ),
    "docmove": ("grew", "fell", "dropped", "rose", "improved"),
    "docwhy": (
        "driven by enterprise deals",
        "mostly from returning customers",
        "despite the strike",
        "after the price change",
    ),
    "docwhy2": ("the plan renewed without notice", "the item never arrived", "of a duplicate charge"),
    "docteam": ("board", "committee", "steering group", "city council", "product team"),
    "docdecision": ("postpone the vote", "hire two engineers", "freeze spending", "open an office in {city}"),
    "docask": ("a refund", "written notice", "a discount", "a replacement", "an extension"),
    "docsystem": ("billing service", "search index", "auth layer", "reporting pipeline"),
    "docfind": ("no significant effect", "a small positive effect", "a strong association", "mixed evidence"),
    "docstate": ("suspended", "delayed", "back to normal", "limited"),
    "syllogism": (
        "if all cats are mammals and some mammals fly, does it follow that some cats fly?",
        "if no A is B and some C are A, does it follow that some C are not B?",
        "if every {things} in the box is red and this one is in the box, must it be red?",
    ),
    "codetask_do": (
        "read a csv and average each column",
        "remove duplicates but keep order",
        "validate an email",
        "retry a request with backoff",
        "parse dates in different formats",
        "debounce a function",
        "stream a large file",
        "sort objects by two keys",
        "flatten a nested list",
        "hash a password",
    ),
    "userdoes": ("submit the form", "run it in docker", "deploy", "open the second page", "upload a file"),
    "project": ("CLI tool", "REST API", "chat bot", "scraper", "mobile app", "data pipeline", "game"),
    "regexwhat": ("UK postcodes", "ISO dates", "hex colours", "phone numbers with an optional +", "IPv4"),
    "foreign": ("carpe diem", "je ne sais quoi", "schadenfreude", "mono no aware", "saudade", "hygge"),
}
_DOC = (
    "{name} from {company} {docevent} {docwhen}.", "Revenue in {city} {docmove} {pct} {docwhen}, {docwhy}.",
    "The {docteam} agreed to {docdecision} {docwhen}.", "Customer {n} asked for {docask} because {docwhy2}.",
    "Our team moved the {docsystem} to {lib}, which {docmove} p95 latency by {pct}.",
    "Invoice {n} from {company} totals ${n2}.{n3} and is due {docwhen}.",
    "The study of {n} participants in {city} found {docfind} of {topic}.",
    "{name} will lead the {topic} workstream {docwhen}.", "Tickets tagged '{topic}' went from {n} to {n2} {docwhen}.",
    "Shipping to {city} is {docstate} {docwhen}.", "The contract with {company} renews unless {docask} is sent.",
    "{name} said the {product} {docevent2} and asked for {docask}.",
)  # fmt: skip
_CODE_VERBS = ("parses", "validates", "merges", "deduplicates", "caches", "paginates", "normalizes", "batches")
_CODE_OBJS = (
    "CSV rows", "JSON config files", "log lines", "user records", "sorted arrays", "HTTP responses",
    "date strings", "nested dictionaries", "database rows", "file paths", "event streams", "price lists",
)  # fmt: skip
_CODE_HOW = (
    "", " in linear time", " without extra memory", " with clear error messages", " lazily", " concurrently",
    " and returns a summary", " and skips invalid input", " with a configurable limit", " in place",
)  # fmt: skip
_PROB_FRAMES = (
    "{name} has {n} {things} and buys {n3} packs of {n3} each. how many {things} does {name} have now?",
    "a {shape} has a perimeter of {n2} cm and one side of {n} cm. what is its area?",
    "{name} saves ${n} a week. how many weeks until {name} can afford a {product} costing ${n2}?",
    "the price of a {product} rose from ${n} to ${n2}. by what percentage did it go up?",
    "a tank fills in {n3} hours and drains in {n} hours. how long does it take with the drain open?",
    "in how many ways can {n3} {people} be seated in a row?",
    "find all integers x with x^2 - {n3}x + {n} = 0.",
    "{n} {people} finish a job in {n3} days. how long would {n2} {people} take?",
    "a train leaves {city} at {n} km/h and another leaves {city2} at {n2} km/h; the cities are {n3}00 km "
    "apart. when do they meet?",
    "{name} is {n3} times as old as {name2}. in {n} years the sum of their ages will be {n2}. how old is {name}?",
    "a shop discounts a {product} by {pct} and later raises the price by {pct2}. what is the net change?",
    "what is the remainder when {n2}^{n3} is divided by {n}?",
    "{name} reads {n} pages a day; a book has {n2} pages. on which day does {name} finish?",
    "a recipe for {n3} people needs {n} g of {ingredient}. how much for {n2} people?",
    "a {shape} is cut into {n3} equal parts and {name} takes {n3}. what fraction is left?",
    "the average of {n3} numbers is {n}; adding one more makes it {n2}. what number was added?",
    "{name} invests ${n2} at {pct} a year, compounded yearly. how much after {n3} years?",
    "a bag has {n3} red and {n} blue marbles. two are drawn without replacement. P(both red)?",
)
_PROB_WORDS = {
    "things": ("apples", "stickers", "marbles", "cookies", "pencils", "cards", "eggs", "stamps"),
    "shape": ("rectangle", "square garden", "triangular field", "rectangular pool", "pizza"),
    "people": ("workers", "students", "guests", "painters", "robots"),
    "ingredient": ("flour", "rice", "sugar", "butter", "lentils"),
}


def _word(key: str) -> Callable[[Random], str]:
    pool = WORDS.get(key) or _PROB_WORDS[key]
    return lambda r: pool[int(r.random() * len(pool))]


def slot_functions(fill: Fill) -> dict[str, Callable[[Random], str]]:
    """Extra slots (``{job}``, ``{problem}``, ``{codetask}``...) for the TextGen slot table."""
    out: dict[str, Callable[[Random], str]] = {k: _word(k) for k in (*WORDS, *_PROB_WORDS)}
    for nested in (
        "probevent",
        "claim",
        "place",
        "syllogism",
        "docwhen",
        "docdecision",
    ):  # pools whose entries have slots themselves
        f = out[nested]
        out[nested] = lambda r, f=f: fill(f(r), r)  # type: ignore[misc]
    out["who"] = lambda r: fill(_WHO[int(r.random() * len(_WHO))], r)
    out["sit"] = out["sit2"] = lambda r: fill(_SIT[int(r.random() * len(_SIT))], r)
    out["sit3"] = lambda r: fill(_SIT3[int(r.random() * len(_SIT3))], r)
    out["doc"] = lambda r: fill(_DOC[int(r.random() * len(_DOC))], r)
    out["problem"] = lambda r: _cap1(fill(_PROB_FRAMES[int(r.random() * len(_PROB_FRAMES))], r))
    out["codetask"] = lambda r: (
        f"{_CODE_VERBS[int(r.random() * len(_CODE_VERBS))]} "
        f"{_CODE_OBJS[int(r.random() * len(_CODE_OBJS))]}{_CODE_HOW[int(r.random() * len(_CODE_HOW))]}"
    )
    return out


def _cap1(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


_QUALS = (
    " for a beginner", " in simple terms", " with examples", " for my {relation}", " in {n3} sentences",
    " compared to {topic2}", " as of {year}", " from a {job}'s point of view", " in {city}", " for {audience}",
    " without the hype", " in practical terms", " if I only have ${n2}", " for a {course} assignment",
    " step by step", " briefly", " in detail", " for {purpose}", " honestly", " in {lang} please",
)  # fmt: skip


def _core(cap: str, r: Random, fill: Fill, polite: bool) -> str:
    frames = (None if polite else _TASKS.get(cap)) or _FRAMES.get(cap) or _FRAMES["chat"]
    frame = frames[int(r.random() * len(frames))]
    if polite and r.random() < 0.5 and "\n" not in frame and not frame.endswith(('"', "}")):
        q = _QUALS[int(r.random() * len(_QUALS))]
        frame = frame[:-1] + q + "?" if frame.endswith("?") else frame + q
    if frame.startswith("!"):
        frame = frame[1:]
        pre = _POLITE[int(r.random() * len(_POLITE))] if polite else ""
        text = fill(pre + frame, r)
        if pre and pre.rstrip() in ("can you", "could you", "would you"):
            text += "?"
        elif not text.endswith(("`", "\n", "?", ".", '"')):
            text += "."
    else:
        text = fill(frame, r)
    return _cap1(text)


def task(cap: str, r: Random, fill: Fill) -> str:
    """A bare content item of ``cap`` (what a template wraps): a core without personal layers."""
    return _core(cap, r, fill, polite=False)


def human_prompt(cap: str, r: Random, fill: Fill) -> str:
    """A prompt as a person would type it for capability ``cap``."""
    x = r.random()
    if x < 0.03:
        return _SHORT[int(r.random() * len(_SHORT))]
    if x < 0.06 and cap in ("chat", "writing", "translation", "summarization"):
        return fill(_FOREIGN[int(r.random() * len(_FOREIGN))], r)
    parts: list[str] = []
    if r.random() < 0.18:
        parts.append(_OPENERS[int(r.random() * len(_OPENERS))])
    ctx = fill(_CONTEXT[int(r.random() * len(_CONTEXT))], r) if r.random() < 0.4 else ""
    if ctx and r.random() < 0.5:  # context before the request, or after it
        parts.append(ctx)
        ctx = ""
    parts.append(_core(cap, r, fill, polite=True))
    if ctx:
        parts.append(ctx)
    while r.random() < 0.3:
        parts.append(fill(_DETAILS[int(r.random() * len(_DETAILS))], r))
    if r.random() < 0.25:
        parts.append(_TAILS[int(r.random() * len(_TAILS))])
    return _noise(" ".join(parts), r)


def _noise(text: str, r: Random) -> str:
    x = r.random()
    if x < 0.22:
        text = text.lower()
    elif x < 0.27:
        text = text[:1].lower() + text[1:]
    if r.random() < 0.15:
        text = text.rstrip(".?!")
    if r.random() < 0.12:  # a typo: two letters swapped in one longer word
        words = text.split(" ")
        i = int(r.random() * len(words))
        w = words[i]
        if len(w) > 4 and w.isalpha():
            j = 1 + int(r.random() * (len(w) - 2))
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
            text = " ".join(words)
    return text


_FOLLOW_HEAD = ("", "", "ok ", "thanks! ", "hmm, ", "great. ", "wait, ", "nice. ", "no, ", "cool, ")
_FOLLOW = (
    "can you expand on the second point?", "what about {topic}?", "make it shorter", "give me an example",
    "that's not right, try again", "now do the same for {city}", "put that in a table", "why is that?",
    "translate that to {lang}", "and what next?", "can you make it more {tone}?", "explain that last part",
    "what if I only have ${n2}?", "is there a simpler way?", "add more detail about {topic}",
    "rewrite it for {audience}", "which one would you pick?", "can you check it again?", "sources?",
    "how long would that take?", "ok and in {plang}?", "that didn't work, I get {error}",
)  # fmt: skip


def followup(r: Random, fill: Fill) -> str:
    head = _FOLLOW_HEAD[int(r.random() * len(_FOLLOW_HEAD))]
    text = head + fill(_FOLLOW[int(r.random() * len(_FOLLOW))], r)
    return _noise(text[:1].upper() + text[1:] if r.random() < 0.5 else text, r)
