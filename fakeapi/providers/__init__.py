"""The emulated APIs, one module each; ``all_providers()`` builds one of every kind."""

from __future__ import annotations

from fakeapi.http import Provider
from fakeapi.providers.apixo.provider import ApixoApi
from fakeapi.providers.foxapi.provider import FoxApi
from fakeapi.providers.pixapi.provider import PixApi
from fakeapi.providers.rixapi.provider import RixApi


def all_providers() -> list[Provider]:
    return [RixApi(), ApixoApi(), FoxApi(), PixApi()]
