"""The registry of emulated APIs: names and mounts are unique, declarations complete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fakeapi.providers.base import Provider, provider_problems
from fakeapi.scenario.schema import ApiSettings


class ProviderError(Exception):
    """A provider that cannot be registered: a name or mount taken, or an incomplete declaration."""


class Registry:
    """The APIs a new ``FakeServer`` serves and a scenario's ``apis`` section configures."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> Provider:
        """Add ``provider``; refuse a taken name or mount, or a missing error row."""
        problems = provider_problems(provider)
        for other in self._providers.values():
            if other.name == provider.name:
                problems.append(f"an API named {provider.name!r} is already registered")
            if other.mount == provider.mount:
                problems.append(f"{other.name} is already mounted at {provider.mount}")
        if problems:
            raise ProviderError("; ".join(problems))
        self._providers[provider.name] = provider
        return provider

    def unregister(self, name: str) -> None:
        del self._providers[name]

    @contextmanager
    def added(self, provider: Provider) -> Iterator[Provider]:
        """``provider`` registered for the duration of a ``with`` block."""
        self.register(provider)
        try:
            yield provider
        finally:
            self.unregister(provider.name)

    def providers(self) -> list[Provider]:
        return list(self._providers.values())

    def settings(self) -> dict[str, type[ApiSettings]]:
        """Each API's settings model, by name: the members of a scenario's ``apis`` section."""
        return {name: p.settings_model for name, p in self._providers.items()}


REGISTRY = Registry()
