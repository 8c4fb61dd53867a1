"""One seeded source for everything random: ids, jitter, faker text."""

from __future__ import annotations

import random
import string
from functools import cache

from faker import Faker

BASE36 = string.digits + string.ascii_lowercase


@cache
def _shared_faker() -> Faker:
    # Building a Faker costs tens of milliseconds; one instance reseeded per reset keeps resets cheap.
    return Faker()


@cache
def _render_faker() -> Faker:
    return Faker()


def faker_for(key: str) -> Faker:
    """A Faker seeded by ``key`` (e.g. a task id): the same text every time the same thing is rendered."""
    fake = _render_faker()
    fake.seed_instance(key)
    return fake


class Randomness:
    """A ``random.Random`` and a ``Faker`` seeded together, so one seed reproduces a whole run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.random = random.Random(seed)
        self.faker = _shared_faker()
        self.faker.seed_instance(seed)

    def token(self, length: int, alphabet: str = BASE36) -> str:
        # random.choices(alphabet, k=length), drawn the same way (one random() per character) at
        # two thirds of its cost: ids are made on every submit.
        draw, size = self.random.random, len(alphabet)
        return "".join([alphabet[int(draw() * size)] for _ in range(length)])

    def uniform(self, low: float, high: float) -> float:
        return self.random.uniform(low, high)
