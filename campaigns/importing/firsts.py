"""Where each tel1 number of a list was first imported, in 16 bytes a number.

A dict of int -> int holds a million numbers in about 110 MB (two int objects and an entry each),
most of a large import's memory. Two arrays used as an open-addressing table hold the same in
16 bytes a slot, sized from the file so that it rarely grows."""

from array import array

EMPTY = 0  # no number is 0: a stored number is a country code and digits
GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads numbers that differ in their last digits


class FirstRows:
    """`setdefault(number, where)`: where the number was first seen, or None after remembering `where`."""

    def __init__(self, expected: int = 0):
        slots = 1 << 12
        while slots * 2 < expected * 3:  # at most two thirds full
            slots <<= 1
        self._allocate(slots)
        self.count = 0
        self.longer = {}  # numbers beyond 64 bits (E.164 stops at 15 digits, the metadata allows a few more)

    def _allocate(self, slots: int) -> None:
        self.mask = slots - 1
        self.shift = 64 - slots.bit_length() + 1
        self.keys = array("Q", bytes(8 * slots))
        self.values = array("Q", bytes(8 * slots))
        self.limit = slots * 2 // 3

    def setdefault(self, number: int, where: int) -> int | None:
        if number >> 64:
            first = self.longer.get(number)
            if first is None:
                self.longer[number] = where
            return first
        keys, mask = self.keys, self.mask
        slot = ((number * GOLDEN) & 0xFFFFFFFFFFFFFFFF) >> self.shift
        while True:
            found = keys[slot]
            if found == number:
                return self.values[slot]
            if found == EMPTY:
                break
            slot = (slot + 1) & mask
        keys[slot] = number
        self.values[slot] = where
        self.count += 1
        if self.count > self.limit:
            self._grow()
        return None

    def _grow(self) -> None:
        keys, values = self.keys, self.values
        self._allocate((self.mask + 1) * 2)
        self.count = 0
        for number, where in zip(keys, values, strict=True):
            if number != EMPTY:
                self.setdefault(number, where)

    def __len__(self) -> int:
        return self.count + len(self.longer)
