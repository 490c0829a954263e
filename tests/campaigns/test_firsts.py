"""FirstRows answers as a dict's setdefault would: the first place a number was seen, or None."""

import random

from campaigns.importing.firsts import FirstRows


def test_it_remembers_the_first_place_of_every_number_through_growth():
    # given more numbers than the table first holds, many of them repeated, some beyond 64 bits
    rng = random.Random(16)
    numbers = [
        rng.choice([919800000000 + rng.randrange(30_000), 9 * 10**19 + rng.randrange(50), 442079460000 + i])
        for i in range(40_000)
    ]
    table, reference = FirstRows(expected=100), {}

    # when each is offered with where it was seen
    answers = [table.setdefault(number, where) for where, number in enumerate(numbers, start=2)]

    # then each answer is the first place, exactly as a dict says it
    expected = []
    for where, number in enumerate(numbers, start=2):
        expected.append(reference.get(number))
        reference.setdefault(number, where)
    assert answers == expected
    assert any(answer is not None for answer in answers)
    assert len(table) == len(reference) > 20_000


def test_it_is_sized_from_the_rows_expected():
    assert len(FirstRows(expected=1_000_000).keys) == 1 << 21  # two thirds full at most
    assert len(FirstRows().keys) == 1 << 12
