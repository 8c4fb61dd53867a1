"""The emulated APIs: one package each, registered in ``REGISTRY``.

A new API is a package beside these (``provider.py``, ``wire.py``, ``catalogue.py``) and one
``REGISTRY.register(...)`` line below, or in the code that uses it.
"""

from __future__ import annotations

from fakeapi.providers.apixo.provider import ApixoApi
from fakeapi.providers.base import Provider
from fakeapi.providers.foxapi.provider import FoxApi
from fakeapi.providers.pixapi.provider import PixApi
from fakeapi.providers.registry import REGISTRY, ProviderError, Registry
from fakeapi.providers.rixapi.provider import RixApi

for _provider in (RixApi(), ApixoApi(), FoxApi(), PixApi()):
    REGISTRY.register(_provider)

__all__ = ["REGISTRY", "Provider", "ProviderError", "Registry"]
