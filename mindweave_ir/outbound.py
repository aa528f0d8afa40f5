"""The one way out for HTTP requests to URLs that users configure (webhooks, Slack,
automation rules): nothing else in the project may send to such a URL.

Anyone who can type a URL, a Viewer included, must not be able to make this server
talk to itself or its neighbours (SSRF: the database and Redis ports, a cloud's
metadata service at 169.254.169.254, an admin interface on 10.x), nor read what they
answer. So, for every request:

1. The URL: http or https, a host, no `user:password@`.
2. The host is resolved once (literal and numeric forms such as `2130706433`,
   `0177.0.0.1` or `0x7f.1` read the way the C library reads them) and the request is
   refused if ANY address is not globally routable: loopback, private, link-local,
   CGNAT, unique-local, site-local, multicast, unspecified, broadcast, reserved,
   documentation and benchmarking ranges, IPv4-mapped IPv6, and 6to4 / NAT64 /
   IPv4-compatible forms of an internal IPv4 address. `OUTBOUND_ALLOWED_NETWORKS`
   (CIDRs, default none) lets on-premise receivers through, and only those.
3. The connection goes to an address that was checked; there is no second lookup, so
   a name that resolves elsewhere a moment later (DNS rebinding) changes nothing. TLS
   verifies the certificate against the URL's host name (SNI too), and the Host header
   is the URL's.
4. One request: no redirects (a 3xx is an answer), no proxy from the environment
   (http.client reads none), one deadline for connecting, sending and reading.
5. The answer is a status code and our own reason phrase. At most MAX_BODY_BYTES of the
   body are read, for the server log and for recognising a few documented error codes;
   never for showing to a user. Errors read the same for a closed port and an open port
   that does not speak HTTP, so the messages are no port scanner.

`check_url` is the same check without sending, for forms (on save); `post` checks again
on every send.
"""

import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache
from http import HTTPStatus
from urllib.parse import quote, urlsplit

from django.conf import settings

from .redaction import mask_tokens, redact_url

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096  # read from an answer, for the log only
LOG_BODY_CHARS = 500
ALLOW_SETTING = "OUTBOUND_ALLOWED_NETWORKS"
_ASK_ADMIN = f"ask an admin to allow it with {ALLOW_SETTING}"
_NO_ANSWER = "could not connect or got no HTTP answer"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class OutboundResponse:
    """What a receiver answered. `reason` is the standard phrase for `status` (our words,
    not the peer's); `body` is at most MAX_BODY_BYTES, never to be shown to a user."""

    status: int
    reason: str
    body: bytes = field(default=b"", repr=False)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason}".strip()


class OutboundError(Exception):
    """The request was not sent or not answered. The message is safe to show: no body,
    no path, no address the user did not type. `permanent`: retrying cannot help."""

    permanent = False


class RefusedURL(OutboundError):
    """The URL or one of its host's addresses is not allowed; nothing was sent."""

    permanent = True


class Unreachable(OutboundError):
    """No HTTP answer: name not found, connection refused or reset, not HTTP, bad TLS."""


class TimedOut(OutboundError):
    """The receiver took longer than the timeout."""


# --- which addresses are internal ---------------------------------------------------------

def _nets(*pairs):
    return [(ipaddress.ip_network(net), words) for net, words in pairs]


# Checked in order; the first match names the class. Anything else that ipaddress does
# not call global is refused as "reserved". Multicast, 0.0.0.0/8, 6to4 and NAT64 are
# listed because Python (3.11-3.13, depending on the patch release) calls some of them
# global.
_V4_INTERNAL = _nets(
    ("0.0.0.0/8", "an unspecified (this-host) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("169.254.0.0/16", "a link-local address (cloud metadata services live there)"),
    ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("192.0.0.0/24", "a reserved (IETF protocol) address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("192.88.99.0/24", "a reserved (6to4 relay) address"),
)
_V6_INTERNAL = _nets(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("fc00::/7", "a unique-local address"),
    ("ff00::/8", "a multicast address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("2001::/32", "a Teredo address"),
    ("100::/64", "a discard-only address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a reserved (segment routing) address"),
    ("::/8", "a reserved address"),  # IPv4-compatible ::a.b.c.d and the rest of ::/8
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address inside a 6to4 or well-known-prefix NAT64 address, if any."""
    if ip.sixtofour is not None:
        return "a 6to4 address", ip.sixtofour
    if ip in _NAT64:
        return "a NAT64 address", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def internal_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a place to send to (e.g. "a loopback address"), or None if it is
    globally routable. Ignores OUTBOUND_ALLOWED_NETWORKS (see `refusal`)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped (zone-index) address"
        if ip.ipv4_mapped is not None:
            inner = internal_reason(ip.ipv4_mapped) or "a public address"
            return f"an IPv4-mapped address (of {ip.ipv4_mapped}, {inner})"
        embedded = _embedded_v4(ip)
        if embedded is not None:
            kind, inner = embedded
            why = internal_reason(inner)
            return f"{kind} of {inner}, {why}" if why else None
        table = _V6_INTERNAL
    else:
        table = _V4_INTERNAL
    for network, words in table:
        if ip in network:
            return words
    return None if ip.is_global else "a reserved address"


@lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple:
    """The CIDRs among `entries` (a setting's list), as networks; cached."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # reported by the system check; an unreadable entry allows nothing
    return tuple(networks)


def network_errors(entries) -> list[str]:
    """Entries of OUTBOUND_ALLOWED_NETWORKS that are not CIDRs (for the system check)."""
    bad = []
    for entry in entries:
        try:
            ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            bad.append(str(entry))
    return bad


def allowed_networks() -> tuple:
    return parse_networks(tuple(getattr(settings, ALLOW_SETTING, ()) or ()))


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` is refused, or None: internal and not inside OUTBOUND_ALLOWED_NETWORKS."""
    if any(ip.version == net.version and ip in net for net in allowed_networks()):
        return None
    return internal_reason(ip)


# --- the URL and its addresses ------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL, lower case, without brackets
    port: int
    path: str  # path and query, what goes on the request line


# What inet_aton (and so getaddrinfo) reads as an IPv4 address: one to four parts, each
# decimal, octal (leading 0) or hex (0x), e.g. 2130706433, 0177.0.0.1, 0x7f.1.
_NUMERIC_V4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?",
                         re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _parse(url: str) -> _Target:
    if _UNSAFE_CHARS.search(url or ""):
        raise RefusedURL("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedURL("the URL is not usable (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedURL("only http:// and https:// URLs are sent")
    if "@" in parts.netloc:
        raise RefusedURL("no user:password@ in the URL, please")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise RefusedURL("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path = _NON_ASCII.sub(lambda m: quote(m.group()), path)  # the request line is ASCII
    return _Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _literal(host: str) -> IPAddress | None:
    """The address a numeric host stands for (the C library's reading), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise RefusedURL(f"{host} is neither an IP address nor a host name") from None
    return None


def _sockaddr(ip: IPAddress, port: int):
    if ip.version == 6:
        return socket.AF_INET6, (str(ip), port, 0, 0)
    return socket.AF_INET, (str(ip), port)


def _resolve(target: _Target) -> list[tuple[int, tuple]]:
    """Every address of the target's host, each checked; RefusedURL if any is refused.

    Returns (family, sockaddr) pairs in the resolver's order, to connect to as they are.
    """
    literal = _literal(target.host)
    if literal is not None:
        why = refusal(literal)
        if why:
            shown = target.host if target.host == str(literal) else \
                f"{target.host} means {literal}, which"
            raise RefusedURL(f"{shown} is {why}; {_ASK_ADMIN}")
        return [_sockaddr(literal, target.port)]
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Unreachable(f"could not find the host name {target.host}") from None
    addresses = []
    for family, _, _, _, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if family == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3]:
            why = "a scoped (zone-index) address"
        else:
            why = refusal(ip)
        if why:
            # The address itself is not named: that would turn this into a way to read
            # the internal DNS.
            raise RefusedURL(f"{target.host} points to {why}; {_ASK_ADMIN}")
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise Unreachable(f"could not find the host name {target.host}")
    return addresses


def check_url(url: str) -> None:
    """Raise RefusedURL if `url` could not be sent to (for forms, at save time).

    A name that does not resolve right now is accepted: every send checks again, and
    says so then.
    """
    target = _parse(url)
    with contextlib.suppress(Unreachable):
        _resolve(target)


# --- the connection -----------------------------------------------------------------------

class _DeadlineMixin:
    """Each blocking call waits only for what is left of the whole request's time, so a
    receiver that trickles its answer a byte at a time costs the timeout, not more."""

    deadline = float("inf")

    def _arm(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.settimeout(remaining)

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)

    def recv(self, *args, **kwargs):
        self._arm()
        return super().recv(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._arm()
        return super().sendall(*args, **kwargs)


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    pass


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    pass


@cache
def tls_context() -> ssl.SSLContext:
    """System CAs, hostname check on, TLS 1.2+."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def _open_socket(family: int, sockaddr: tuple, deadline: float) -> socket.socket:
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.connect(sockaddr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    sock.deadline = deadline
    return sock


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Speaks to `host` (the Host header) over a socket to `sockaddr`, the checked
    address; never resolves `host` itself."""

    def __init__(self, host, port, *, family, sockaddr, deadline):
        super().__init__(host, port)
        self.family, self.sockaddr, self.deadline = family, sockaddr, deadline

    def connect(self):
        self.sock = _open_socket(self.family, self.sockaddr, self.deadline)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """PinnedHTTPConnection with TLS: the certificate is verified against `host` (and
    `host` is sent as SNI), although the socket goes to the checked address."""

    def __init__(self, host, port, *, family, sockaddr, deadline, context=None):
        context = context or tls_context()
        super().__init__(host, port, context=context)
        self.family, self.sockaddr, self.deadline = family, sockaddr, deadline
        self.tls = context

    def connect(self):
        sock = _open_socket(self.family, self.sockaddr, self.deadline)
        try:
            sock.settimeout(max(self.deadline - time.monotonic(), 0.001))  # the handshake
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock.deadline = self.deadline


def _connect(target: _Target, addresses, deadline):
    """A connected connection to the first checked address that accepts."""
    last_error: Exception | None = None
    for family, sockaddr in addresses:
        if target.scheme == "https":
            conn = PinnedHTTPSConnection(target.host, target.port, family=family,
                                         sockaddr=sockaddr, deadline=deadline)
        else:
            conn = PinnedHTTPConnection(target.host, target.port, family=family,
                                        sockaddr=sockaddr, deadline=deadline)
        try:
            conn.connect()
            return conn
        except (TimeoutError, ssl.SSLCertVerificationError):
            conn.close()
            raise
        except OSError as exc:
            conn.close()
            last_error = exc
    raise last_error or OSError("no address")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _log_excerpt(raw: bytes, url: str, redact) -> str:
    """The start of an answer for the server log, with the URL's secrets scrubbed."""
    text = " ".join(raw.decode("utf-8", "replace").split())
    parts = urlsplit(url)
    for needle in (url, parts.path if len(parts.path) > 1 else "", parts.query, *redact):
        if needle:
            text = text.replace(needle, "…")
    text = mask_tokens(text)
    return text[:LOG_BODY_CHARS] + ("…" if len(text) > LOG_BODY_CHARS else "")


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         redact=()) -> OutboundResponse:
    """POST `body` to `url` under the rules above; the answer, or an OutboundError.

    `timeout` bounds the whole exchange (connect, TLS, send, read). `redact`: secrets to
    scrub from the server log's excerpt of the answer (a webhook's signing secret).
    """
    where = redact_url(url)
    started = time.monotonic()
    try:
        target = _parse(url)
        addresses = _resolve(target)
    except OutboundError as exc:
        logger.warning("outbound POST to %s not sent: %s", where, exc)
        raise
    deadline = started + timeout
    conn = None
    try:
        conn = _connect(target, addresses, deadline)
        conn.request("POST", target.path, body=body,
                     headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        status = response.status
        raw = response.read(MAX_BODY_BYTES)
    except TimeoutError:
        logger.warning("outbound POST to %s timed out after %.1f s", where,
                       time.monotonic() - started)
        raise TimedOut(f"timed out after {timeout:g} s") from None
    except ssl.SSLCertVerificationError as exc:
        logger.warning("outbound POST to %s: TLS certificate refused: %s", where,
                       exc.verify_message)
        raise Unreachable(f"the TLS certificate of {target.host} could not be verified") \
            from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        logger.warning("outbound POST to %s failed: %s: %s", where, type(exc).__name__,
                       mask_tokens(str(exc))[:200])
        raise Unreachable(_NO_ANSWER) from None
    finally:
        if conn is not None:
            conn.close()
    answer = OutboundResponse(status, _reason(status), raw)
    if 200 <= status < 300:
        logger.info("outbound POST to %s: %s", where, answer)
    else:
        logger.warning("outbound POST to %s: %s; answer began: %s", where, answer,
                       _log_excerpt(raw, url, redact))
    return answer
