"""Which network addresses a callback may reach when private receivers are refused."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are an IPv4 address
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # for one network's own translators (RFC 8215)
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")
# Names that never resolve (RFC 2606, RFC 6761): a callback to one can never arrive.
NEVER_RESOLVED = ("invalid", ".invalid", ".example", ".test")
KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("loopback", lambda a: a.is_loopback),
    ("unspecified", lambda a: a.is_unspecified),
    ("link-local", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("private", lambda a: a.is_private),
    ("reserved", lambda a: a.is_reserved),
    ("non-global", lambda a: not a.is_global),
)


def refusal(address: IPAddress) -> str | None:
    """Why a callback must not reach ``address`` (a private, loopback, link-local, unspecified,
    multicast, reserved or cloud-metadata one, also inside an IPv4-mapped, NAT64 or 6to4 IPv6
    address), or ``None`` when it may."""
    carried = _carried_ipv4(address)
    if carried is not None:
        reason = refusal(carried)
        return None if reason is None else f"{address} carries {carried}: {reason}"
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    if address in LOCAL_NAT64:
        return f"{address} is a local-use NAT64 address"
    kind = next((name for name, test in KINDS if test(address)), None)
    return None if kind is None else f"{address} is a {kind} address"


def literal(host: str) -> IPAddress | None:
    """The address ``host`` writes literally, in any form a resolver reads as one (``127.1``,
    ``2130706433``, ``0x7f.0.0.1``, an IPv6 address with a zone); ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def local_name(host: str) -> bool:
    """Whether ``host`` is a name that can only mean this machine or its own network."""
    return _named_under(host, LOCAL_NAMES)


def never_resolved(host: str) -> bool:
    """Whether ``host`` is a name reserved never to resolve (RFC 2606, RFC 6761)."""
    return _named_under(host, NEVER_RESOLVED)


def _named_under(host: str, names: tuple[str, ...]) -> bool:
    """Whether ``host`` is ``names[0]`` or a name under one of the suffixes after it (any case, a
    final dot or none)."""
    name = host.lower().rstrip(".")
    return name == names[0] or name.endswith(names[1:])


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour
