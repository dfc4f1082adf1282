"""Which peers a listener takes: `allow=` and `deny=` lists of addresses, networks and Unix
user ids, as ncat's --allow and --deny. Pure: it reads what the user typed and judges a peer's
address or uid; the engine asks it before a peer is taken.

A list restricts the peers of its kind: addresses and networks judge TCP and UDP peers, `uid:N`
entries judge Unix stream peers. A deny entry that matches wins; with an allow list, a peer it
does not name is refused. An IPv4 peer on a dual-stack listener (`::ffff:10.1.2.3`) is judged as
the IPv4 address it is, and so are IPv4-mapped entries."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NamedTuple

from workbench.protocol.addresses import EndpointError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UID_PREFIX = "uid:"
# A refusal quotes the allow list; a long one is cut to this many characters.
QUOTED_LIST_CHARS = 60
EXAMPLES = "say 10.0.0.0/8, 192.168.1.5, ::1 or uid:1000"


class PeerList(NamedTuple):
    networks: tuple[Network, ...]
    uids: tuple[int, ...]

    def network_of(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The entry that names `address`, as written in the list."""
        for network in self.networks:
            if address in network:
                return shown(network)
        return None


class Refusal(NamedTuple):
    by: str  # "allow" or "deny": the list that refused, for programs reading the transcript
    reason: str  # in words, for people: `denied by deny=10.0.0.0/8`


def shown(network: Network) -> str:
    """`network` as the list writes it: a single address without its /32 or /128."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _unmapped(network: Network) -> Network:
    """`::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8, as peers are judged."""
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is not None and network.prefixlen >= 96:
        return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


def _entry(name: str, item: str) -> Network | int:
    if item.startswith(UID_PREFIX):
        uid = item[len(UID_PREFIX) :]
        if not uid.isascii() or not uid.isdigit() or int(uid) > 0xFFFFFFFF:
            raise EndpointError(f"{name}: '{item}' is not a user id ({EXAMPLES})")
        return int(uid)
    host, slash, prefix = item.partition("/")
    if host.startswith("[") and host.endswith("]"):  # [::1] as URLs write IPv6
        host = host[1:-1]
    try:
        # strict=False: 10.1.2.3/8 is taken as the network it is in, 10.0.0.0/8.
        return _unmapped(ipaddress.ip_network(host + slash + prefix, strict=False))
    except ValueError:
        raise EndpointError(
            f"{name}: '{item}' is not an address or network ({EXAMPLES}; names are not looked up)"
        ) from None


@lru_cache(maxsize=64)
def read_list(name: str, text: str) -> PeerList:
    """The entries of `text` (comma-separated; spaces around them do not matter), or
    EndpointError quoting the first that is neither an address, a network nor a uid."""
    networks: list[Network] = []
    uids: list[int] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        entry = _entry(name, item)
        if isinstance(entry, int):
            uids.append(entry)
        else:
            networks.append(entry)
    return PeerList(tuple(networks), tuple(uids))


def normalized(name: str, text: str) -> str | None:
    """`text` as the option keeps it (`10.0.0.0/8,::1,uid:1000`), None for an empty list."""
    peers = read_list(name, text)
    items = [shown(n) for n in peers.networks] + [f"{UID_PREFIX}{uid}" for uid in peers.uids]
    return ",".join(items) or None


def peer_notes(allow: str | None, deny: str | None, unix: bool) -> tuple[str, ...]:
    """The notes of a listener's lists (none without lists)."""
    judge = PeerFilter.of(allow, deny)
    return judge.notes(unix) if judge is not None else ()


def _quoted(text: str) -> str:
    return text if len(text) <= QUOTED_LIST_CHARS else text[: QUOTED_LIST_CHARS - 1] + "…"


class PeerFilter:
    """A listener's allow and deny lists (as `normalized` keeps them), judging peers."""

    def __init__(self, allow: str | None, deny: str | None) -> None:
        self.allow_text = allow or ""
        self.allow = read_list("allow", self.allow_text)
        self.deny = read_list("deny", deny or "")

    @classmethod
    def of(cls, allow: str | None, deny: str | None) -> PeerFilter | None:
        """The filter of these lists; None where there are none (every peer is taken)."""
        return cls(allow, deny) if allow or deny else None

    def refuses_host(self, host: str) -> Refusal | None:
        """Why the peer at `host` (an IP address as accept() or recvfrom() gives it) is
        refused, or None if it is taken."""
        if not self.allow.networks and not self.deny.networks:
            return None
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])  # without an IPv6 scope
        except ValueError:
            return None  # not an IP peer: the lists name none
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        denied = self.deny.network_of(address)
        if denied is not None:
            return Refusal("deny", f"denied by deny={denied}")
        if self.allow.networks and self.allow.network_of(address) is None:
            return Refusal("allow", f"not in allow={_quoted(self.allow_text)}")
        return None

    def notes(self, unix: bool) -> tuple[str, ...]:
        """What the lists do at a listener, for its "listening on" line; a list that names
        no peer of the listener's kind (addresses at a Unix one) says it judges none."""
        said: list[str] = []
        for name, peers, does in (
            ("allow", self.allow, "takes only"),
            ("deny", self.deny, "refuses"),
        ):
            if unix:
                items = [f"{UID_PREFIX}{uid}" for uid in peers.uids]
            else:
                items = [shown(network) for network in peers.networks]
            if items:
                said.append(f"{does} {name}={_quoted(','.join(items))}")
            elif peers.networks or peers.uids:
                kind = "uids" if unix else "addresses"
                said.append(f"{name}= names no {kind}: it judges no peer here")
        return tuple(said)

    def judges_uids(self) -> bool:
        return bool(self.allow.uids or self.deny.uids)

    def refuses_uid(self, uid: int | None) -> Refusal | None:
        """Why a Unix peer of user `uid` (None: the system did not say) is refused."""
        if uid is not None and uid in self.deny.uids:
            return Refusal("deny", f"denied by deny={UID_PREFIX}{uid}")
        if self.allow.uids and uid not in self.allow.uids:
            unknown = "its uid is unknown: " if uid is None else ""
            return Refusal("allow", f"{unknown}not in allow={_quoted(self.allow_text)}")
        return None
