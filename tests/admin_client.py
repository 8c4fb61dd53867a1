"""Helpers the test modules share."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest


async def call(
    http: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """An admin request; the status and the parsed JSON answer."""
    async with http.request(method, base_url + "/_fakeapi" + path, json=body, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now (for a ``fakeapi serve`` given its port), as ``free_ports``
    picks one."""
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports that are free now on 127.0.0.1, below the ephemeral
    range: the kernel hands ports of that range to every port-0 server and outgoing connection of the
    other tests running beside this one, which took a fixed port between two runs of a test."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    lowest_ephemeral = int(ephemeral.read_text().split()[0]) if ephemeral.is_file() else 32768
    for _ in range(100):
        first = random.randrange(10000, max(10001, lowest_ephemeral - count))
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first
    raise RuntimeError("no free block of ports")


def write_ini(pytester: pytest.Pytester, *lines: str) -> None:
    """The inner project's pytest.ini (a downstream project would set its asyncio loop scope).

    The inner files are sequences: a test checks what the one before it left behind (a reset, a
    marker that must not leak, ids compared across seeds). pytest-randomly, when installed, loads
    itself into the inner sessions too, with a seed of its own that the outer run cannot reproduce;
    the inner project keeps its files' order.
    """
    ini = ["[pytest]", "addopts = -p no:randomly", "asyncio_default_fixture_loop_scope = function", *lines]
    pytester.makeini("\n".join(ini))
