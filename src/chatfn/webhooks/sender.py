"""One delivery attempt of a webhook to a user's URL, safe against server-side request forgery
by construction: the URL is parsed, its host resolved once, every address it resolved to
checked against the rules below, and the connection made to those checked addresses only
(an aiohttp resolver pinned to them), so a name that answers a public address to the check
and a private one a moment later (DNS rebinding) never reaches the private one. The Host
header, TLS SNI and certificate check stay on the URL's own name. Redirects are never
followed, no proxy or credentials come from the environment, no cookie is kept, and the
connect time, total time and bytes read of the answer are bounded.

aiohttp rather than httpx: its `AbstractResolver` is a documented seam whose results carry the
address to connect to apart from the name (which SNI and Host keep), where httpx would need
its transport's private network backend replaced. It also reads the body in bounded chunks
without decompressing it, and tries every pinned address (happy eyeballs) itself. A session
lives for one attempt: the pin belongs to that attempt's check.

Numeric host spellings (`0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`) are not IP
addresses to yarl or `ipaddress`; they go through the same lookup as a name, where
getaddrinfo turns each into 127.0.0.1, which is refused.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict
from yarl import URL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Lookup = Callable[[str, int], Awaitable[Sequence[str]]]
ErrorKind = Literal["refused", "dns", "connection", "tls", "timeout", "redirect", "status"]

EXCERPT_BYTES = 500
REASON_CHARS = 300


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for `host`, as the operating system would connect."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class DeliveryPolicy:
    """What a delivery may reach and how long it may take. `allowed_networks` are CIDRs
    exempted from the address rules on purpose (a test receiver on 127.0.0.2/32); `lookup`
    and `tls` are the system's resolver and trust store unless a caller brings its own."""

    allow_http: bool = False
    allowed_networks: Sequence[str] = ()
    connect_timeout: float = 5.0
    total_timeout: float = 15.0  # the spec recommends 15-30 s for a receiver to answer
    max_response_bytes: int = 64 * 1024
    lookup: Lookup = system_lookup
    tls: ssl.SSLContext | None = None
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Parsed once, so a mistyped CIDR fails where the policy is made.
        networks = tuple(ip_network(cidr) for cidr in self.allowed_networks)
        object.__setattr__(self, "networks", networks)


@dataclass(frozen=True)
class Attempt:
    """How one POST went. `error` is None exactly when the receiver answered 2xx."""

    status: int | None
    error: ErrorKind | None
    reason: str
    latency_ms: float
    response_excerpt: str = ""
    truncated: bool = False  # the answer was longer than the policy's max_response_bytes
    retry_after: float | None = None  # seconds the receiver asked us to wait


class URLRefused(ValueError):
    """A URL the policy does not let a webhook reach; the message names the rule."""


class HostNotFound(URLRefused):
    """A host name that does not resolve (now: DNS may answer later)."""


@dataclass(frozen=True)
class CheckedURL:
    url: URL
    addresses: tuple[IPAddress, ...]


async def check_url(url: str, policy: DeliveryPolicy) -> CheckedURL:
    """`url` with the addresses its host resolves to, all allowed by `policy`; raises
    URLRefused (HostNotFound for a name that does not resolve) saying which rule failed.
    The same check guards each delivery and an endpoint's registration."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise URLRefused(f"not a URL: {exc}") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parsed.scheme not in schemes:
        raise URLRefused(f"the scheme must be {' or '.join(schemes)}")
    if parsed.user is not None or parsed.password is not None:
        raise URLRefused("credentials in the URL are not allowed")
    host, port = parsed.raw_host, parsed.port
    if not host or port is None:
        raise URLRefused("the URL has no host")
    addresses = await _resolve(host, port, policy.lookup)
    for address in addresses:
        if rule := refusal(address, policy.networks):
            shown = host if host == str(address) else f"{host} resolves to {address}, which"
            raise URLRefused(f"{shown} is {rule}")
    return CheckedURL(parsed, addresses)


async def _resolve(host: str, port: int, lookup: Lookup) -> tuple[IPAddress, ...]:
    try:
        return (ip_address(host),)
    except ValueError:
        pass
    try:
        found = await lookup(host, port)
    except OSError as exc:
        raise HostNotFound(f"{host} does not resolve ({exc.strerror or exc})") from None
    if not found:
        raise HostNotFound(f"{host} does not resolve")
    return tuple(dict.fromkeys(ip_address(a) for a in found))


# Named rules first, so a refusal says which; anything else `ipaddress` does not call
# global (documentation, benchmarking, discard-only ranges) is refused as such after them.
_RULES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(cidr), rule)
    for cidr, rule in (
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (where cloud metadata answers)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible IPv6 (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
        ("fc00::/7", "unique local (where cloud metadata answers)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """The rule that forbids connecting to `address`, or None if it may be reached."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, IPv6Address):
        embedded = list(_embedded_ipv4(address))
        if embedded:
            # The prefix only carries an IPv4 address: that address decides.
            for kind, inner in embedded:
                if rule := refusal(inner, allowed):
                    return f"{kind} {inner}, {rule}"
            return None
    for network, rule in _RULES:
        if address in network:
            return rule
    return None if address.is_global else "not globally routable"


def _embedded_ipv4(address: IPv6Address) -> Iterator[tuple[str, IPv4Address]]:
    if address.ipv4_mapped is not None:
        yield "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        yield "NAT64 of", IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        yield "6to4 of", address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        yield "Teredo server", server
        yield "Teredo client", client


class _PinnedResolver(AbstractResolver):
    """Answers aiohttp with the addresses check_url approved, for that host alone."""

    def __init__(self, checked: CheckedURL) -> None:
        self._host = checked.url.raw_host
        self._addresses = checked.addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"{host} is not the host that was checked")
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._addresses
        ]

    async def close(self) -> None:
        pass


async def deliver(
    url: str, headers: Mapping[str, str], body: bytes, policy: DeliveryPolicy
) -> Attempt:
    """POST `body` with `headers` to `url` once, within `policy`; never raises for anything
    the network or the receiver does."""
    started = time.perf_counter()

    def failed(error: ErrorKind, reason: object) -> Attempt:
        elapsed = (time.perf_counter() - started) * 1000
        return Attempt(None, error, str(reason)[:REASON_CHARS], elapsed)

    try:
        # One deadline over the lookup too: getaddrinfo can take longer than any request.
        async with asyncio.timeout(policy.total_timeout):
            checked = await check_url(url, policy)
            return await _post(checked, headers, body, policy, started)
    except HostNotFound as exc:
        return failed("dns", exc)
    except URLRefused as exc:
        return failed("refused", exc)
    # Our words rather than aiohttp's where its message carries the whole URL, whose path
    # may hold the receiver's own secret (as chat apps' incoming-webhook URLs do).
    except aiohttp.ConnectionTimeoutError:
        return failed("timeout", f"could not connect within {policy.connect_timeout:g} s")
    except TimeoutError:
        return failed("timeout", f"no answer within {policy.total_timeout:g} s")
    except aiohttp.ClientResponseError as exc:
        return failed("connection", f"a malformed answer: {exc.message}")
    except aiohttp.ClientSSLError as exc:
        return failed("tls", exc)
    except (aiohttp.ClientError, OSError) as exc:
        return failed("connection", exc)


async def _post(
    checked: CheckedURL,
    headers: Mapping[str, str],
    body: bytes,
    policy: DeliveryPolicy,
    started: float,
) -> Attempt:
    connector = aiohttp.TCPConnector(
        resolver=_PinnedResolver(checked),
        use_dns_cache=False,
        ssl=True if policy.tls is None else policy.tls,
    )
    async with (
        aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # no proxy and no .netrc credentials from the environment
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=policy.connect_timeout),
            # A compressed answer stays compressed: no bomb is inflated to read 500 bytes.
            auto_decompress=False,
        ) as session,
        session.post(
            checked.url,
            data=body,
            headers=_with_identity_encoding(headers),
            allow_redirects=False,
        ) as response,
    ):
        content, truncated = await _read_at_most(response, policy.max_response_bytes)
        if truncated:
            response.close()  # drop the connection rather than drain the rest
        status = response.status
        error: ErrorKind | None = None
        reason = f"HTTP {status}"
        if 300 <= status < 400:
            error = "redirect"
            reason += f" to {response.headers.get('Location', '')!r}, not followed"
        elif not 200 <= status < 300:
            error = "status"
        return Attempt(
            status=status,
            error=error,
            reason=reason[:REASON_CHARS],
            latency_ms=(time.perf_counter() - started) * 1000,
            response_excerpt=content[:EXCERPT_BYTES].decode("utf-8", "replace"),
            truncated=truncated,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )


def _with_identity_encoding(headers: Mapping[str, str]) -> CIMultiDict[str]:
    sent = CIMultiDict({"Accept-Encoding": "identity"})
    sent.update(headers)  # names match in any case: a caller's own value replaces ours
    return sent


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The answer's first `limit` bytes, and whether there was more (one byte past the
    limit is read to know)."""
    read = bytearray()
    while len(read) <= limit:
        chunk = await response.content.read(limit + 1 - len(read))
        if not chunk:
            break
        read += chunk
    return bytes(read[:limit]), len(read) > limit


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header as seconds from `now`, in either form RFC 9110 allows:
    delta-seconds or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms);
    None when absent or unreadable, 0 for a date already past."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)  # float, not int: no digit limit, and 10**400 is inf
    try:
        when = parsedate_to_datetime(value)
    except (ValueError, TypeError):
        return None
    if when.tzinfo is None:  # asctime carries no zone; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
