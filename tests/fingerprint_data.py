"""Hand-made prompts for the fingerprint tests: templates, paraphrases, and unrelated chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from distillguard.schema import EXCHANGES

T0 = datetime(2026, 2, 1, tzinfo=UTC)

QUESTIONS = [
    "A farmer has 17 sheep and buys 9 more at the market. He then sells a third of the flock. How many sheep remain?",
    "Two trains leave stations 300 km apart and travel toward each other at 70 and 80 km/h. When do they meet?",
    "What is the sum of all even numbers between 1 and 101?",
    "If a rectangle has a perimeter of 40 cm and its length is three times its width, what is its area?",
    "A shop discounts a jacket by 20 percent and then by another 10 percent. What is the total discount?",
    "Prove that the product of two odd integers is odd.",
    "How many ways can five books be arranged on a shelf if two particular books must stay together?",
    "A tank fills in 6 hours with pipe A and 4 hours with pipe B. How long with both open?",
    "Find the smallest positive integer divisible by every number from one to ten.",
    "The average of four numbers is 25. Three of them are 20, 22 and 31. What is the fourth?",
    "A cyclist rides uphill at 12 km/h and back downhill at 24 km/h. What is the average speed?",
    "How many diagonals does a convex polygon with twelve sides have?",
    "Maria saves 15 dollars a week. How many weeks until she can afford a bike costing 240 dollars?",
    "If the probability of rain on each of three days is one half, what is the chance it rains at least once?",
    "A recipe needs 3 eggs for 12 cookies. How many eggs are needed for 60 cookies?",
    "What is the remainder when two to the power of fifty is divided by seven?",
    "A ladder 10 m long leans against a wall with its foot 6 m away. How high does it reach?",
    "The sum of three consecutive integers is 72. What are the integers?",
    "A car uses 8 litres of fuel per 100 km. How much fuel for a trip of 350 km?",
    "How many prime numbers are there between fifty and one hundred?",
    "Tom is twice as old as his sister. In five years the sum of their ages will be 40. How old is Tom?",
    "A box contains 4 red and 6 blue marbles. Two are drawn without replacement. What is the chance both are red?",
    "What is the least common multiple of 18, 24 and 30?",
    "A worker paints a fence in 5 hours and another in 7 hours. How long together?",
    "Simplify the fraction 84 over 126 and explain why it cannot be reduced further.",
    "A square garden has an area of 196 square metres. What length of fence surrounds it?",
    "How many handshakes happen when fifteen people each shake hands once with everyone else?",
    "An investment grows by 6 percent a year. After how many years does it double, approximately?",
    "The angles of a triangle are in the ratio 2:3:4. What is the largest angle?",
    "Sam reads 35 pages a day. How many days to finish a novel of 630 pages?",
]

CHAT = [
    "What are some good names for a golden retriever puppy?",
    "Can you recommend a few science fiction novels similar to Dune?",
    "How do I get red wine stains out of a cotton shirt?",
    "Write a short poem about the first snow of winter.",
    "What is the difference between a virus and a bacterium?",
    "I'm visiting Lisbon for three days, what should I not miss?",
    "Explain how a mortgage works in simple terms.",
    "Give me a vegetarian dinner idea that takes under thirty minutes.",
    "Why is the sky blue during the day and red at sunset?",
    "Help me write a polite email declining a job offer.",
    "What exercises help with lower back pain?",
    "Summarize the causes of the First World War in a paragraph.",
    "How do noise cancelling headphones actually work?",
    "Suggest a birthday gift for my dad who likes fishing and jazz.",
    "Translate 'good morning, how are you' into Japanese.",
    "What are the pros and cons of electric cars?",
    "Tell me a fun fact about octopuses.",
    "How should I prepare for a job interview at a startup?",
    "What is a good stretching routine before running?",
    "Can you explain the rules of cricket briefly?",
    "My tomato plants have yellow leaves, what could be wrong?",
    "Write a limerick about a cat who loves lasagna.",
    "How many hours of sleep does a teenager need?",
    "What's the best way to learn to play the guitar as an adult?",
    "Describe the plot of Pride and Prejudice without spoilers.",
    "Is it better to rent or buy a house in a big city?",
    "How do vaccines train the immune system?",
    "Plan a weekend hiking trip in the Alps for beginners.",
    "What does a product manager do all day?",
    "Give me three tips to reduce screen time before bed.",
    "Compose a toast for my sister's wedding.",
    "Why do cats purr?",
    "How can I make my small apartment feel bigger?",
    "What is the history of the Eiffel Tower?",
    "Recommend a podcast about economics for beginners.",
    "How do I politely ask my neighbour to be quieter at night?",
    "What are the main differences between Spanish and Portuguese?",
    "Write a motivational message for a friend running a marathon.",
    "How does compound interest work?",
    "What should I pack for a week in Iceland in October?",
]


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """An EXCHANGES table; missing columns are null, ts defaults to one minute apart."""
    full = []
    for i, r in enumerate(rows):
        row = {"request_id": f"req_{i}", "account_id": "acct_0", "ts": T0 + timedelta(minutes=i)}
        row.update(r)
        full.append(row)
    return pa.Table.from_pylist(full, schema=EXCHANGES)


# Lightly paraphrased variants of one instruction: words swapped or inserted, synonyms, clauses moved.
PARAPHRASES = [
    "Read the student's answer below carefully and score it from 1 to 10 according to the rubric"
    ", then justify the score in two sentences.",
    "Read the student's answer below and score it from 1 to 10 according to the rubric"
    ", then justify your score in two sentences.",
    "Please read the student's answer below and score it from 1 to 10 according to the rubric"
    ", then justify the score in two short sentences.",
    "Read the pupil's answer below and grade it from 1 to 10 according to the rubric"
    ", then justify the score in two sentences.",
    "Read the student's response below and score it from 1 to 10 according to the given rubric"
    ", then justify the score in two sentences.",
    "Read the student's answer below and score it from 1 to 10 following the rubric"
    ", then justify the score in two sentences.",
    "Read the student's answer below and, according to the rubric, score it from 1 to 10"
    ", then justify the score in two sentences.",
    "Carefully read the student's answer below and score it from 1 to 10 according to the rubric"
    "; then justify the score in two sentences.",
    "Read the student's answer shown below and score it from 1 to 10 according to the rubric"
    ", then explain and justify the score in two sentences.",
    "Read the student's answer below and score it on a 1 to 10 scale according to the rubric"
    ", then justify the score in two sentences.",
]


def wrapped(question: str, i: int) -> str:
    """One campaign-style wrapper around a varying question."""
    return (
        "You will be given a problem. Think through it step by step, writing out every intermediate "
        f"calculation, and finish with the final answer on its own line.\n\nProblem {i}: {question}"
    )
