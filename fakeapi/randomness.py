"""One seeded source for everything random: ids, jitter, faker text."""

from __future__ import annotations

import random
import string
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker

BASE36 = string.digits + string.ascii_lowercase


@cache
def _render_faker() -> Faker:
    # Imported here: faker costs a fifth of `fakeapi serve`'s start-up and only generated text needs it.
    # Building a Faker costs tens of milliseconds; one instance reseeded per render keeps renders cheap.
    from faker import Faker

    return Faker()


def faker_for(key: str) -> Faker:
    """A Faker seeded by ``key`` (e.g. a task id): the same text every time the same thing is rendered."""
    fake = _render_faker()
    fake.seed_instance(key)
    return fake


class Randomness:
    """A ``random.Random`` seeded by the run's seed, so one seed reproduces a whole run (ids, jitter);
    faker text is seeded by what it is rendered for (``faker_for``)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.random = random.Random(seed)

    def token(self, length: int, alphabet: str = BASE36) -> str:
        # random.choices(alphabet, k=length), drawn the same way (one random() per character) at
        # two thirds of its cost: ids are made on every submit.
        draw, size = self.random.random, len(alphabet)
        return "".join([alphabet[int(draw() * size)] for _ in range(length)])

    def uniform(self, low: float, high: float) -> float:
        return self.random.uniform(low, high)
