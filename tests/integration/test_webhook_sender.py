"""One webhook delivery against real HTTP receivers (aiohttp servers started here; no chatfn
stack): what reaches an allowed receiver, every address an attacker would aim at refused
before any connection, DNS rebinding defeated by connecting to the address that was
checked, TLS checked on the URL's name, redirects not followed, and time and size bounded.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a receiver can listen on
127.0.0.2, which the test policy exempts, while 127.0.0.1 stays refused."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chatfn.webhooks.sender import DeliveryPolicy, Lookup, URLRefused, check_url, deliver
from chatfn.webhooks.signing import new_secret, sign
from tests.utils.receivers import ALLOWED, receiving

POLICY = DeliveryPolicy(
    allow_http=True, allowed_networks=[f"{ALLOWED}/32"], connect_timeout=2, total_timeout=5
)
BODY = b'{"type":"message.sent","data":{"id":"0190"}}'


def lookup_answering(*answers: Sequence[str]) -> tuple[Lookup, list[str]]:
    """A resolver that gives `answers` in turn (the last one from then on), and the hosts it
    was asked for."""
    asked: list[str] = []

    async def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(answers[min(len(asked), len(answers)) - 1])

    return lookup, asked


async def test_a_signed_post_reaches_an_allowed_receiver() -> None:
    headers = sign("msg_1", BODY, new_secret()) | {"Content-Type": "application/json"}
    async with receiving(ALLOWED) as receiver:
        attempt = await deliver(receiver.url, headers, BODY, POLICY)
    assert (attempt.status, attempt.error, attempt.reason) == (200, None, "HTTP 200")
    assert attempt.response_excerpt == "thanks"
    assert not attempt.truncated
    assert 0 < attempt.latency_ms < 2000
    [seen] = receiver.seen
    assert seen.body == BODY
    assert seen.host == f"{ALLOWED}:{receiver.port}"
    for name, value in headers.items():
        assert seen.headers[name] == value
    assert seen.headers["Accept-Encoding"] == "identity"
    assert "Cookie" not in seen.headers
    assert "Authorization" not in seen.headers


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed() -> None:
    async with receiving("127.0.0.1") as internal:

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"http://127.0.0.1:{internal.port}/")

        async with receiving(ALLOWED, redirect) as receiver:
            attempt = await deliver(receiver.url, {}, BODY, POLICY)
    assert (attempt.status, attempt.error) == (302, "redirect")
    assert f"http://127.0.0.1:{internal.port}/" in attempt.reason
    assert len(receiver.seen) == 1
    assert internal.seen == []


# Each aimed at the port of a receiver listening on 127.0.0.1, which must never be reached.
REFUSED = {
    "loopback": ("http://127.0.0.1:{port}/", "127.0.0.1 is loopback"),
    "localhost": ("http://localhost:{port}/", "localhost resolves to 127.0.0.1, which is loopback"),
    "ipv6 loopback": ("http://[::1]:{port}/", "::1 is loopback"),
    "hex": ("http://0x7f000001:{port}/", "resolves to 127.0.0.1, which is loopback"),
    "decimal": ("http://2130706433:{port}/", "resolves to 127.0.0.1, which is loopback"),
    "octal": ("http://0177.0.0.1:{port}/", "resolves to 127.0.0.1, which is loopback"),
    "short": ("http://127.1:{port}/", "resolves to 127.0.0.1, which is loopback"),
    "mapped": ("http://[::ffff:127.0.0.1]:{port}/", "IPv4-mapped 127.0.0.1, loopback"),
    "6to4": ("http://[2002:7f00:1::]:{port}/", "6to4 of 127.0.0.1, loopback"),
    "unspecified": ("http://0.0.0.0:{port}/", "unspecified"),
    "metadata": ("http://169.254.169.254/latest/meta-data/", "link-local"),
    "ipv6 metadata": ("http://[fd00:ec2::254]/", "unique local"),
    "private": ("http://10.0.0.1/", "private (RFC 1918)"),
    "cgnat": ("http://100.64.0.1/", "carrier-grade NAT"),
    "nat64": ("http://[64:ff9b::a00:1]/", "NAT64 of 10.0.0.1, private"),
    "credentials": ("http://user:secret@127.0.0.2:{port}/", "credentials in the URL"),
    "scheme": ("ftp://127.0.0.2:{port}/", "the scheme must be https or http"),
}


@pytest.mark.parametrize(("url", "rule"), REFUSED.values(), ids=REFUSED.keys())
async def test_a_forbidden_address_is_refused_before_any_connection(url: str, rule: str) -> None:
    async with receiving("127.0.0.1") as internal:
        attempt = await deliver(url.format(port=internal.port), {}, BODY, POLICY)
    assert (attempt.status, attempt.error) == (None, "refused")
    assert rule in attempt.reason
    assert "Traceback" not in attempt.reason
    assert internal.seen == []


async def test_registration_gets_the_same_rule_and_the_checked_addresses() -> None:
    with pytest.raises(URLRefused, match=re.escape("localhost resolves to 127.0.0.1, which")):
        await check_url("http://localhost/hook", POLICY)
    checked = await check_url("http://127.0.0.2:8080/hook", POLICY)
    assert [str(a) for a in checked.addresses] == [ALLOWED]


async def test_https_is_required_unless_the_policy_allows_http() -> None:
    async with receiving(ALLOWED) as receiver:
        attempt = await deliver(receiver.url, {}, BODY, replace(POLICY, allow_http=False))
    assert (attempt.error, attempt.reason) == ("refused", "the scheme must be https")
    assert receiver.seen == []


async def test_dns_rebinding_reaches_only_the_address_that_was_checked() -> None:
    """The name answers 127.0.0.2 (allowed) to the first lookup and 127.0.0.1 to any after,
    with a receiver on each at the same port: a sender that resolved again to connect would
    reach 127.0.0.1."""
    # The port is found free on 127.0.0.1 first: there the stack's own servers listen too,
    # while 127.0.0.2 is the test receivers' alone.
    async with (
        receiving("127.0.0.1") as internal,
        receiving(ALLOWED, port=internal.port) as checked,
    ):
        lookup, asked = lookup_answering([ALLOWED], ["127.0.0.1"])
        policy = replace(POLICY, lookup=lookup)
        url = f"http://rebind.test:{checked.port}/hook"
        first = await deliver(url, {}, BODY, policy)
        second = await deliver(url, {}, BODY, policy)
    assert (first.status, first.error) == (200, None)
    assert [seen.host for seen in checked.seen] == [f"rebind.test:{checked.port}"]
    assert asked == ["rebind.test", "rebind.test"]  # once per attempt, never twice in one
    assert second.error == "refused"
    assert "rebind.test resolves to 127.0.0.1" in second.reason
    assert internal.seen == []


async def test_one_forbidden_address_among_the_answers_refuses_the_name() -> None:
    lookup, _ = lookup_answering([ALLOWED, "10.1.2.3"])
    attempt = await deliver("http://mixed.test/", {}, BODY, replace(POLICY, lookup=lookup))
    assert attempt.error == "refused"
    assert "10.1.2.3, which is private" in attempt.reason


def certificate_authority() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatfn test CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def server_tls(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], name: str, folder: Path
) -> tuple[ssl.SSLContext, list[str | None]]:
    """A server context with a certificate for `name` issued by `ca`, and the SNI names
    clients sent it."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = folder / f"{name}.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem)
    names: list[str | None] = []
    context.sni_callback = lambda _socket, sni, _context: names.append(sni)
    return context, names


async def test_tls_is_checked_on_the_urls_name_while_connecting_to_the_pinned_address(
    tmp_path: Path,
) -> None:
    ca = certificate_authority()
    trust = ssl.create_default_context(
        cadata=ca[0].public_bytes(serialization.Encoding.PEM).decode()
    )
    lookup, _ = lookup_answering([ALLOWED])
    policy = replace(POLICY, allow_http=False, lookup=lookup, tls=trust)

    tls, sni = server_tls(ca, "hooks.test", tmp_path)
    async with receiving(ALLOWED, tls=tls) as receiver:
        url = f"https://hooks.test:{receiver.port}/hook"
        attempt = await deliver(url, {}, BODY, policy)
        untrusted = await deliver(url, {}, BODY, replace(policy, tls=None))
    assert (attempt.status, attempt.error) == (200, None)
    assert sni[0] == "hooks.test"
    assert [seen.host for seen in receiver.seen] == [f"hooks.test:{receiver.port}"]
    # The system's trust store knows nothing of the test CA.
    assert untrusted.error == "tls"
    assert "certificate verify failed" in untrusted.reason

    tls, _ = server_tls(ca, "other.test", tmp_path)
    async with receiving(ALLOWED, tls=tls) as impostor:
        attempt = await deliver(f"https://hooks.test:{impostor.port}/", {}, BODY, policy)
    assert attempt.error == "tls"
    assert "hooks.test" in attempt.reason  # a certificate for another name
    assert impostor.seen == []


async def test_a_slow_receiver_times_out() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response()

    async with receiving(ALLOWED, slow) as receiver:
        attempt = await deliver(receiver.url, {}, BODY, replace(POLICY, total_timeout=0.5))
    assert (attempt.status, attempt.error) == (None, "timeout")
    assert 500 <= attempt.latency_ms < 1500


async def test_a_receiver_that_does_not_accept_times_out_at_the_connect_bound() -> None:
    """A listener whose accept queue is full: Linux drops the next SYN, so the connection
    hangs as it would towards a black-holed address."""
    with socket.socket() as listener:
        listener.bind((ALLOWED, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        queued = [socket.socket() for _ in range(3)]
        for client in queued:
            client.setblocking(False)
            with suppress(BlockingIOError):
                client.connect((ALLOWED, port))
        policy = replace(POLICY, connect_timeout=0.3)
        url = f"http://{ALLOWED}:{port}/hooks/T000/B000/their-own-secret"
        attempt = await deliver(url, {}, BODY, policy)
        for client in queued:
            client.close()
    # aiohttp's own message would have carried the path and its secret.
    assert (attempt.error, attempt.reason) == ("timeout", "could not connect within 0.3 s")
    assert 300 <= attempt.latency_ms < 1500


async def test_a_huge_answer_is_cut_at_the_limit() -> None:
    written = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal written
        response = web.StreamResponse()
        await response.prepare(request)
        with suppress(ConnectionError):
            for _ in range(16 * 1024):  # 1 GiB at most, so a broken sender cannot hang here
                await response.write(b"x" * 65536)
                written += 65536
        return response

    async with receiving(ALLOWED, endless) as receiver:
        attempt = await deliver(receiver.url, {}, BODY, replace(POLICY, max_response_bytes=100_000))
        await asyncio.sleep(0.2)  # let the server notice the hang-up
    assert (attempt.status, attempt.error) == (200, None)
    assert attempt.truncated
    assert attempt.response_excerpt == "x" * 500
    assert written < 32 * 1024 * 1024  # stopped by the hang-up (4 MB of socket buffers here)


async def test_an_answer_at_the_limit_is_not_truncated() -> None:
    async def exact(request: web.Request) -> web.StreamResponse:
        return web.Response(body="é" * 600)  # 1200 bytes, cut mid-character in the excerpt

    async with receiving(ALLOWED, exact) as receiver:
        attempt = await deliver(receiver.url, {}, BODY, replace(POLICY, max_response_bytes=1200))
    assert not attempt.truncated
    assert attempt.response_excerpt == "é" * 250


async def test_retry_after_is_read_in_both_forms() -> None:
    in_a_minute = datetime.now(UTC) + timedelta(seconds=60)

    async def busy(request: web.Request) -> web.StreamResponse:
        if request.query.get("form") == "date":
            when = in_a_minute.strftime("%a, %d %b %Y %H:%M:%S GMT")
            return web.Response(status=429, headers={"Retry-After": when})
        return web.Response(status=503, text="maintenance", headers={"Retry-After": "120"})

    async with receiving(ALLOWED, busy) as receiver:
        seconds = await deliver(receiver.url, {}, BODY, POLICY)
        date = await deliver(f"{receiver.url}?form=date", {}, BODY, POLICY)
    assert (seconds.status, seconds.error, seconds.retry_after) == (503, "status", 120.0)
    assert seconds.response_excerpt == "maintenance"
    assert (date.status, date.error) == (429, "status")
    assert date.retry_after is not None
    assert 55 <= date.retry_after <= 60


async def test_no_proxy_is_taken_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with receiving(ALLOWED) as proxy, receiving(ALLOWED) as receiver:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, f"http://{ALLOWED}:{proxy.port}")
        attempt = await deliver(receiver.url, {}, BODY, POLICY)
    assert attempt.status == 200
    assert len(receiver.seen) == 1
    assert proxy.seen == []


async def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    async def lookup(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    attempt = await deliver("http://gone.test/", {}, BODY, replace(POLICY, lookup=lookup))
    assert (attempt.status, attempt.error) == (None, "dns")
    assert attempt.reason == "gone.test does not resolve (Name or service not known)"


async def test_nothing_listening_is_a_connection_failure() -> None:
    async with receiving(ALLOWED) as receiver:
        url = receiver.url  # its port, closed again below
    attempt = await deliver(url, {}, BODY, POLICY)
    assert (attempt.status, attempt.error) == (None, "connection")


async def test_a_malformed_answer_is_a_connection_failure_that_hides_the_path() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"garbage\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(garbage, ALLOWED, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        url = f"http://{ALLOWED}:{port}/hooks/T000/B000/their-own-secret"
        attempt = await deliver(url, {}, BODY, POLICY)
    assert attempt.error == "connection"
    assert attempt.reason.startswith("a malformed answer: Bad status line")
    assert "their-own-secret" not in attempt.reason


async def test_an_error_status_is_a_failed_attempt_with_its_answer() -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="stack trace of theirs")

    async with receiving(ALLOWED, broken) as receiver:
        attempt = await deliver(receiver.url, {}, BODY, POLICY)
    assert (attempt.status, attempt.error, attempt.reason) == (500, "status", "HTTP 500")
    assert attempt.response_excerpt == "stack trace of theirs"
