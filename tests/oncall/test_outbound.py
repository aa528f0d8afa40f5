"""SSRF: the one outbound HTTP client (mindweave_ir/outbound.py) and every sender on it.

Every address class is refused, v4 and v6, however it is written and whatever a name
resolves to; the request never reaches a local receiver unless OUTBOUND_ALLOWED_NETWORKS
lets it through (the suite's own fixture allows 127.0.0.1 and ::1; `no_allowlist`
clears it, as production's default is). DNS is replaced at the boundary
(`socket.getaddrinfo`) only for the name cases; everything else runs against real
sockets on 127.0.0.1.
"""

import ipaddress
import json
import socket
import ssl
import subprocess  # nosec B404 - openssl makes the test certificate
import threading
import time
from datetime import UTC, datetime
from shutil import which

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from incidents import automation, ingest, services
from incidents.comms import delivery
from incidents.models import (
    Alert,
    AutomationAction,
    AutomationRule,
    CommsKind,
    CommsStatus,
    FiringResult,
    IncidentComms,
    IntegrationKind,
    Severity,
    TimelineEntry,
)
from mindweave_ir import outbound
from oncall import paging
from oncall.channels import (
    Message,
    PermanentChannelError,
    SlackChannel,
    TransientChannelError,
    WebhookChannel,
)
from oncall.models import ContactMethod, DeliveryStatus, EscalationLevel, EscalationPolicy
from tests.oncall.conftest import Receiver, free_port

PUBLIC_V4 = "93.184.215.14"
ASK = "ask an admin to allow it with OUTBOUND_ALLOWED_NETWORKS"
BODY_SECRET = "remote-body-SECRET-do-not-show"


@pytest.fixture
def no_allowlist(settings):
    """Production's default: no network allowed beyond the public internet."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer getaddrinfo for chosen names: {name: [[first answer], [second], ...]}.

    Each lookup of a name takes the next answer (the last one repeats); `calls` counts
    lookups per name. Other names go to the real resolver.
    """
    real = socket.getaddrinfo
    answers, calls = {}, {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls[host] = calls.get(host, 0) + 1
        sequence = answers[host]
        addresses = sequence[min(calls[host], len(sequence)) - 1]
        infos = []
        for address in addresses:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    getaddrinfo.answers, getaddrinfo.calls = answers, calls
    return getaddrinfo


def post(url, body=b"{}", timeout=2, **kwargs):
    return outbound.post(url, body, {"Content-Type": "application/json"}, timeout=timeout,
                         **kwargs)


# --- every address class -----------------------------------------------------------------

INTERNAL = [
    ("127.0.0.1", "a loopback address"), ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.1", "a private address"), ("172.16.0.1", "a private address"),
    ("172.31.255.254", "a private address"), ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address"), ("fe80::1", "a link-local address"),
    ("100.64.0.1", "a carrier-grade NAT"), ("100.127.255.254", "a carrier-grade NAT"),
    ("fc00::1", "a unique-local address"), ("fd12:3456:789a::1", "a unique-local address"),
    ("fec0::1", "a site-local address"),
    ("224.0.0.1", "a multicast address"), ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"), ("ff0e::1", "a multicast address"),
    ("0.0.0.0", "an unspecified"), ("0.1.2.3", "an unspecified"),
    ("::", "an unspecified address"),
    ("255.255.255.255", "the broadcast address"),
    ("240.0.0.1", "a reserved address"), ("192.0.0.8", "a reserved (IETF protocol)"),
    ("192.0.2.1", "a documentation address"), ("198.51.100.7", "a documentation address"),
    ("203.0.113.9", "a documentation address"), ("2001:db8::1", "a documentation address"),
    ("198.18.0.1", "a benchmarking address"), ("100::1", "a discard-only address"),
    ("::ffff:127.0.0.1", "an IPv4-mapped address (of 127.0.0.1, a loopback address)"),
    ("::ffff:10.0.0.1", "an IPv4-mapped address (of 10.0.0.1, a private address)"),
    ("::ffff:8.8.8.8", "an IPv4-mapped address (of 8.8.8.8, a public address)"),
    ("::127.0.0.1", "a reserved address"), ("::a00:1", "a reserved address"),
    ("2002:7f00:1::", "a 6to4 address of 127.0.0.1, a loopback address"),
    ("2002:a9fe:a9fe::1", "a 6to4 address of 169.254.169.254, a link-local address"),
    ("64:ff9b::7f00:1", "a NAT64 address of 127.0.0.1, a loopback address"),
    ("64:ff9b::a00:1", "a NAT64 address of 10.0.0.1, a private address"),
    ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", PUBLIC_V4, "2606:4700:4700::1111", "2a00:1450:4001::1",
          "2002:808:808::1", "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "words"), INTERNAL)
def test_every_internal_address_class_is_named_and_refused(no_allowlist, address, words):
    assert words in outbound.internal_reason(ipaddress.ip_address(address))
    url = f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"
    with pytest.raises(outbound.RefusedURL, match=ASK) as caught:
        outbound.check_url(url)
    assert words in str(caught.value)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(no_allowlist, address):
    assert outbound.internal_reason(ipaddress.ip_address(address)) is None
    outbound.check_url(f"https://[{address}]/" if ":" in address else f"https://{address}/")


@pytest.mark.parametrize(("host", "means"), [
    ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("127.1", "127.0.0.1"), ("017700000001", "127.0.0.1"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"), ("2852039166", "169.254.169.254"),
    ("10.1", "10.0.0.1"), ("0", "0.0.0.0"),
])
def test_numeric_host_tricks_mean_what_the_resolver_reads(no_allowlist, host, means):
    # Read the way getaddrinfo reads them, then judged like any address.
    resolved = {info[4][0] for info in socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)}
    assert resolved == {means}
    with pytest.raises(outbound.RefusedURL, match=f"{host} means {means}, which is a"):
        outbound.check_url(f"http://{host}:6379/")


@pytest.mark.parametrize("url", [
    "http://localhost:5432/", "http://LOCALHOST./", "http://127.0.0.1./x",
    "http://[::1]:6379/", "http://[fe80::1%25eth0]/", "http://[::ffff:7f00:1]/",
    "https://169.254.169.254/latest/meta-data/", "http://0.0.0.0:8000/",
])
def test_local_urls_written_any_way_are_refused(no_allowlist, url):
    with pytest.raises(outbound.RefusedURL):
        outbound.check_url(url)


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://example.com/x", "only http:// and https://"),
    ("file:///etc/passwd", "only http:// and https://"),
    ("gopher://example.com:6379/_INFO", "only http:// and https://"),
    ("http://user:pw@example.com/", "no user:password@"),
    ("http://example.com@127.0.0.1/", "no user:password@"),
    ("http:///path-only", "has no host"),
    ("http://exa mple.com/", "spaces or control characters"),
    ("http://example.com/\r\nX-Injected: 1", "spaces or control characters"),
    ("http://example.com:99999/", "not usable"),
])
def test_malformed_urls_are_refused(url, words):
    with pytest.raises(outbound.RefusedURL, match=words):
        outbound.check_url(url)


# --- names: every resolved address counts, and only the checked one is used --------------

def test_a_name_resolving_to_an_internal_address_is_refused_without_naming_it(
        no_allowlist, fake_dns):
    fake_dns.answers["hooks.example.test"] = [["10.20.30.40"]]
    with pytest.raises(outbound.RefusedURL) as caught:
        outbound.check_url("https://hooks.example.test/x")
    assert str(caught.value) == f"hooks.example.test points to a private address; {ASK}"
    assert "10.20.30.40" not in str(caught.value)  # no reading of the internal DNS


@pytest.mark.parametrize("answer", [
    [PUBLIC_V4, "10.0.0.7"], ["10.0.0.7", PUBLIC_V4], [PUBLIC_V4, "::1"],
    ["2606:4700:4700::1111", "fd00::1"], [PUBLIC_V4, "169.254.169.254"],
])
def test_one_internal_address_among_public_ones_refuses_the_name(no_allowlist, fake_dns,
                                                                 answer):
    fake_dns.answers["mixed.example.test"] = [answer]
    with pytest.raises(outbound.RefusedURL, match="mixed.example.test points to"):
        post("http://mixed.example.test/hook")


def test_a_name_that_does_not_resolve_is_saved_but_not_sent(fake_dns):
    fake_dns.answers["gone.example.test"] = [[]]
    outbound.check_url("https://gone.example.test/hook")  # checked again on each send
    with pytest.raises(outbound.Unreachable, match="could not find the host name"):
        post("https://gone.example.test/hook")


def test_rebinding_connects_to_the_address_that_was_checked(no_allowlist, fake_dns,
                                                            monkeypatch):
    """First answer public, every later one internal: one lookup, and the socket goes to
    the public address it checked."""
    fake_dns.answers["rebind.example.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
    connected = []

    class RecordingSocket:
        def __init__(self, family, kind):
            self.family = family

        def settimeout(self, value):
            pass

        def connect(self, sockaddr):
            connected.append((self.family, sockaddr))
            raise ConnectionRefusedError

        def close(self):
            pass

    monkeypatch.setattr(outbound, "_DeadlineSocket", RecordingSocket)
    with pytest.raises(outbound.Unreachable):
        post("http://rebind.example.test:8080/hook")
    assert connected == [(socket.AF_INET, (PUBLIC_V4, 8080))]
    assert fake_dns.calls == {"rebind.example.test": 1}


def test_rebinding_against_a_real_receiver_reaches_only_the_checked_address(
        settings, fake_dns, receiver):
    """An allowed on-premise receiver's name later points at 10.x: the request still
    goes to the checked 127.0.0.1, with the URL's own name as Host."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake_dns.answers["onprem.example.test"] = [["127.0.0.1"], ["10.0.0.1"]]
    port = receiver.server_address[1]
    answer = post(f"http://onprem.example.test:{port}/hook?x=1")
    assert (answer.status, answer.reason, str(answer)) == (200, "OK", "HTTP 200 OK")
    assert receiver.requests[0]["path"] == "/hook?x=1"
    assert receiver.requests[0]["headers"]["Host"] == f"onprem.example.test:{port}"
    assert fake_dns.calls == {"onprem.example.test": 1}


# --- the allow-list -----------------------------------------------------------------------

def test_local_receiver_is_refused_by_default_and_never_reached(no_allowlist, receiver):
    with pytest.raises(outbound.RefusedURL, match=f"127.0.0.1 is a loopback address; {ASK}"):
        post(receiver.url())
    assert receiver.requests == []


def test_allowed_network_lets_an_on_premise_receiver_through(settings, receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert post(receiver.url(), b'{"a":1}').status == 200
    assert receiver.requests[0]["body"] == b'{"a":1}'


def test_allowing_ipv4_loopback_does_not_allow_its_ipv6_forms(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    for url in ("http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://[64:ff9b::7f00:1]/",
                "http://10.0.0.1/"):
        with pytest.raises(outbound.RefusedURL):
            outbound.check_url(url)


def test_allowed_networks_system_check(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    call_command("check")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16", "intranet"]
    with pytest.raises(SystemCheckError, match="'intranet' is not a network"):
        call_command("check")
    with pytest.raises(outbound.RefusedURL):  # an unreadable entry allows nothing
        outbound.check_url("http://10.99.0.1/")


# --- one request: no redirects, no proxies, one deadline, no body shown -------------------

def test_a_redirect_is_an_answer_not_followed(receiver):
    receiver.answer(302, "", headers={"Location": receiver.url("/elsewhere")})
    answer = post(receiver.url())
    assert (answer.status, str(answer)) == (302, "HTTP 302 Found")
    assert [r["path"] for r in receiver.requests] == ["/hook"]


def test_proxy_variables_are_ignored(monkeypatch, receiver):
    proxy = Receiver()
    threading.Thread(target=proxy.serve_forever, args=(0.02,), daemon=True).start()
    try:
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url("/"))
        post(receiver.url())
        assert len(receiver.requests) == 1 and proxy.requests == []
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_the_answer_is_status_and_standard_reason_never_the_body(receiver, caplog):
    secret = "whsec-log-scrub-0123"
    path = "/hooks/T0001/path-token-do-not-log"
    receiver.answer(500, f"{BODY_SECRET} {secret} {path} " + "x" * 20000)
    with caplog.at_level("WARNING", logger="mindweave_ir.outbound"):
        answer = post(receiver.url(path), redact=(secret,))
    assert (answer.status, answer.reason) == (500, "Internal Server Error")
    assert BODY_SECRET not in str(answer) and BODY_SECRET not in repr(answer)
    assert len(answer.body) <= outbound.MAX_BODY_BYTES
    # The server log keeps a truncated, scrubbed excerpt.
    [line] = [r.getMessage() for r in caplog.records if "answer began" in r.getMessage()]
    assert BODY_SECRET in line
    assert secret not in line and "path-token-do-not-log" not in line
    assert len(line) < 700


def test_an_unknown_status_has_no_reason_of_the_peers(receiver):
    receiver.answer(599, "")
    assert str(post(receiver.url())) == "HTTP 599"


def serve_raw(behaviour):
    """A TCP listener on 127.0.0.1 whose every connection gets behaviour(conn)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def run():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_handle, args=(behaviour, conn), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()
    return listener


def _handle(behaviour, conn):
    try:
        behaviour(conn)
    except OSError:
        pass
    finally:
        conn.close()


def _redis_like(conn):
    conn.recv(4096)
    conn.sendall(b"-ERR unknown command 'POST'\r\n")


def _ssh_like(conn):
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    conn.recv(4096)


def _hang_up(conn):
    conn.recv(4096)


@pytest.mark.parametrize("behaviour", [_redis_like, _ssh_like, _hang_up])
def test_closed_and_open_non_http_ports_read_the_same(behaviour):
    closed = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(outbound.Unreachable) as on_closed:
        post(closed)
    listener = serve_raw(behaviour)
    try:
        with pytest.raises(outbound.Unreachable) as on_open:
            post(f"http://127.0.0.1:{listener.getsockname()[1]}/")
    finally:
        listener.close()
    assert str(on_open.value) == str(on_closed.value) == "could not connect or got no HTTP answer"


def test_a_hanging_receiver_costs_at_most_the_timeout(receiver):
    receiver.answer(200, "ok", delay=10)
    started = time.monotonic()
    with pytest.raises(outbound.TimedOut, match="timed out after 1 s"):
        post(receiver.url(), timeout=1)
    assert time.monotonic() - started < 1.5


def test_a_trickling_receiver_costs_at_most_the_timeout():
    """One byte every 0.3 s never trips a per-read timeout; the deadline still holds."""
    def trickle(conn):
        conn.recv(4096)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
            conn.sendall(bytes([byte]))
            time.sleep(0.3)

    listener = serve_raw(trickle)
    try:
        started = time.monotonic()
        with pytest.raises(outbound.TimedOut):
            post(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=1)
        assert time.monotonic() - started < 1.5
    finally:
        listener.close()


# --- HTTPS: the checked address, the certificate checked against the name -------------------

def test_https_connection_goes_to_the_checked_ip_with_sni_for_the_name(monkeypatch):
    opened, wrapped = [], []

    class FakeSocket:
        def __init__(self, family, kind):
            self.family = family

        def settimeout(self, value):
            pass

        def setsockopt(self, *args):
            pass

        def connect(self, sockaddr):
            opened.append((self.family, sockaddr))

        def close(self):
            pass

    class FakeContext(ssl.SSLContext):
        def wrap_socket(self, sock, server_hostname):
            wrapped.append((sock, server_hostname))
            return sock

    monkeypatch.setattr(outbound, "_DeadlineSocket", FakeSocket)
    conn = outbound.PinnedHTTPSConnection(
        "hooks.example.com", 443, family=socket.AF_INET, sockaddr=(PUBLIC_V4, 443),
        deadline=time.monotonic() + 5, context=FakeContext(ssl.PROTOCOL_TLS_CLIENT))
    conn.connect()
    assert opened == [(socket.AF_INET, (PUBLIC_V4, 443))]
    assert wrapped[0][1] == "hooks.example.com"
    context = outbound.tls_context()
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch, settings):
    """An HTTPS receiver on 127.0.0.1 whose certificate names hooks.example.test, and a
    client context that trusts it (and nothing else)."""
    openssl = which("openssl")
    if not openssl:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # nosec B603
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.example.test",
         "-addext", "subjectAltName=DNS:hooks.example.test"],
        check=True, capture_output=True, timeout=60)
    server = Receiver()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert))
    client_context.sslsocket_class = outbound._DeadlineSSLSocket
    monkeypatch.setattr(outbound, "tls_context", lambda: client_context)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    yield server
    server.shutdown()
    server.server_close()


def test_https_verifies_the_certificate_against_the_url_name(tls_receiver, fake_dns):
    port = tls_receiver.server_address[1]
    fake_dns.answers["hooks.example.test"] = [["127.0.0.1"]]
    fake_dns.answers["other.example.test"] = [["127.0.0.1"]]
    assert post(f"https://hooks.example.test:{port}/hook").status == 200
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{port}"
    with pytest.raises(outbound.Unreachable, match="TLS certificate of other.example.test"):
        post(f"https://other.example.test:{port}/hook")
    with pytest.raises(outbound.Unreachable, match="TLS certificate of 127.0.0.1"):
        post(f"https://127.0.0.1:{port}/hook")
    assert len(tls_receiver.requests) == 1


# --- the channels: checked on save and on every send ----------------------------------------

@pytest.mark.parametrize("channel", [SlackChannel(), WebhookChannel()])
@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "http://[::1]:6379/",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://0.0.0.0/", "http://10.0.0.1/", "http://0x7f.1/"])
def test_channels_refuse_internal_targets_on_save(no_allowlist, channel, url):
    with pytest.raises(ValidationError) as caught:
        channel.validate_target(url)
    assert ASK in caught.value.messages[0]


def test_channel_send_refuses_a_stored_internal_target_permanently(no_allowlist, receiver):
    with pytest.raises(PermanentChannelError, match="is not allowed: 127.0.0.1 is a loopback"):
        WebhookChannel().send(receiver.url(), paging_message())
    assert receiver.requests == []


def test_channel_timeouts_stay_transient_and_say_so(receiver, settings):
    settings.NOTIFICATION_HTTP_TIMEOUT = 1
    receiver.answer(200, "ok", delay=5)
    with pytest.raises(TransientChannelError, match=r"timed out after 1 s\.$"):
        SlackChannel().send(receiver.url(), paging_message())


def paging_message():
    return Message(subject="[SEV-1] x", text="y", link="", ack_url="", severity="SEV-1",
                   dedup_key="k")


# --- through each sender -------------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["webhook", "slack"])
@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "http://[::1]:6379/",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://2130706433/", "http://localhost:8000/admin/"])
def test_a_viewer_cannot_add_an_internal_contact_method(client, viewer, no_allowlist, kind,
                                                        url):
    client.force_login(viewer)
    response = client.post("/oncall/me/contact-methods/add/", {
        "new-kind": kind, "new-target": url, "new-label": "x",
        "new-notify_after_minutes": "0", "new-enabled": "on"}, **HX)
    assert response.status_code == 400
    assert "OUTBOUND_ALLOWED_NETWORKS" in response.content.decode()
    assert not ContactMethod.objects.exists()


@pytest.mark.django_db
def test_editing_a_method_to_an_internal_url_is_refused(client, viewer, no_allowlist):
    method = ContactMethod.objects.create(user=viewer, kind="webhook",
                                          target="https://hooks.example.com/x")
    client.force_login(viewer)
    response = client.post(f"/oncall/me/contact-methods/{method.pk}/edit/", {
        f"cm{method.pk}-target": "http://169.254.169.254/latest/meta-data/",
        f"cm{method.pk}-label": "", f"cm{method.pk}-notify_after_minutes": "0",
        f"cm{method.pk}-enabled": "on"}, **HX)
    assert response.status_code == 400
    assert "169.254.169.254 is a link-local address" in response.content.decode()
    method.refresh_from_db()
    assert method.target == "https://hooks.example.com/x"


@pytest.mark.django_db
def test_the_test_button_never_reaches_an_internal_receiver(client, viewer, no_allowlist,
                                                            receiver):
    """A method stored before the rule (or by hand) is refused when sent, too."""
    method = ContactMethod.objects.create(user=viewer, kind="webhook", target=receiver.url())
    client.force_login(viewer)
    response = client.post(f"/oncall/me/contact-methods/{method.pk}/test/", **HX)
    assert response.status_code == 200
    assert "127.0.0.1 is a loopback address" in response.content.decode()
    assert receiver.requests == []
    method.refresh_from_db()
    assert method.last_test_ok is False and "not allowed" in method.last_test_error


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "shown"), [
    (500, "HTTP 500 Internal Server Error"), (404, "HTTP 404 Not Found"),
    (301, "HTTP 301 Moved Permanently"),
])
def test_the_test_button_shows_status_and_reason_never_the_body(client, viewer, receiver,
                                                                status, shown):
    receiver.answer(status, f"<html>{BODY_SECRET}</html>",
                    headers={"Location": receiver.url("/x")} if status == 301 else None)
    method = ContactMethod.objects.create(user=viewer, kind="webhook", target=receiver.url())
    client.force_login(viewer)
    text = client.post(f"/oncall/me/contact-methods/{method.pk}/test/", **HX).content.decode()
    assert shown in text and BODY_SECRET not in text
    method.refresh_from_db()
    assert shown in method.last_test_error and BODY_SECRET not in method.last_test_error
    assert BODY_SECRET not in client.get("/oncall/me/").content.decode()


@pytest.mark.django_db
def test_a_page_is_never_sent_to_an_internal_receiver(ic, no_allowlist, receiver):
    method = ContactMethod.objects.create(user=ic, kind="webhook", target=receiver.url())
    policy = EscalationPolicy.objects.create(name="P")
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    page = paging.trigger_page(title="Checkout down", severity="SEV-1", dedup_key="k",
                               policy=policy, link="https://ir.example/incidents/1/")
    paging.run_page(page.pk)
    notification = page.notifications.get()
    assert paging.deliver(notification.pk).startswith("failed")
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.FAILED
    assert "127.0.0.1 is a loopback address" in notification.error
    method.refresh_from_db()
    assert method.disabled_at is not None  # permanent: its owner sees why
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_page_shows_no_body_of_a_failing_receiver(ic, receiver):
    receiver.answer(503, BODY_SECRET)
    ContactMethod.objects.create(user=ic, kind="slack", target=receiver.url())
    policy = EscalationPolicy.objects.create(name="P")
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    page = paging.trigger_page(title="Checkout down", severity="SEV-1", dedup_key="k",
                               policy=policy, link="https://ir.example/incidents/1/")
    paging.run_page(page.pk)
    result = paging.deliver(page.notifications.get().pk)
    assert result.startswith("retry in") and "HTTP 503 Service Unavailable" in result
    assert BODY_SECRET not in result
    assert BODY_SECRET not in page.notifications.get().error


# Incidents' senders (comms Slack webhook, automation webhooks) go through oncall.channels;
# these drive them through their own services.

@pytest.fixture
def incident(ic):
    return services.declare_incident(title="Checkout failing", severity=Severity.SEV3, by=ic)


@pytest.mark.django_db
def test_comms_slack_webhook_setter_refuses_internal_urls(ic, incident, no_allowlist):
    for url in ("http://127.0.0.1:6379/", "http://[::1]/", "http://169.254.169.254/"):
        with pytest.raises(services.IncidentError, match=ASK):
            services.set_slack_webhook(incident, url=url, by=ic)
    assert not IncidentComms.objects.exclude(slack_webhook_url="").exists()


@pytest.mark.django_db
def test_comms_slack_sender_refuses_a_stored_internal_url_and_shows_no_body(
        ic, viewer, incident, receiver, settings, client):
    receiver.answer(500, BODY_SECRET)
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)  # allowed while on-premise
    update = services.send_update(incident, channel=CommsKind.SLACK, subject="", body="Hi", by=ic)
    update.deliveries.update(attempts=5)  # the last attempt: the error is final
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.FAILED
    assert "HTTP 500 Internal Server Error" in update.error and BODY_SECRET not in update.error
    client.force_login(viewer)
    panel = client.get(f"/incidents/{incident.ref}/comms/", **HX).content.decode()
    assert "HTTP 500" in panel and BODY_SECRET not in panel

    settings.OUTBOUND_ALLOWED_NETWORKS = []  # the allowance withdrawn: refused on send
    again = services.send_update(incident, channel=CommsKind.SLACK, subject="", body="2", by=ic)
    delivery.deliver_update(again.pk)
    again.refresh_from_db()
    assert again.status == CommsStatus.FAILED and "127.0.0.1 is a loopback" in again.error
    assert len(receiver.requests) == 1


@pytest.fixture
def automation_alert(ic, client):
    """An open Alertmanager alert (through the real endpoint) and a webhook-rule factory."""
    policy = EscalationPolicy.objects.create(name="Default", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    _, token = ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)
    labels = {"alertname": "PodCrashLoopBackOff", "severity": "critical", "pod": "api-1"}
    started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body = {"version": "4", "groupKey": "g", "status": "firing", "receiver": "mindweave",
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
            "externalURL": "http://am:9093", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": labels,
                        "annotations": {"summary": "crash loop"}, "startsAt": started,
                        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                        "fingerprint": "f1"}]}
    response = client.post(f"/api/v1/integrations/{token}/alertmanager", json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 200
    return Alert.objects.get()


def webhook_rule(url):
    return AutomationRule.objects.create(
        name="restart", enabled=True, alert_name="PodCrashLoopBackOff",
        action=AutomationAction.WEBHOOK, webhook_url=url, message="restarted")


@pytest.mark.django_db
def test_automation_webhook_to_an_internal_address_is_refused(automation_alert, no_allowlist,
                                                              receiver):
    firing = automation.fire(webhook_rule(receiver.url()), automation_alert)
    assert firing.result == FiringResult.FAILED
    assert "127.0.0.1 is a loopback address" in firing.detail
    assert receiver.requests == []


@pytest.mark.django_db
def test_automation_timeline_gets_status_and_reason_not_the_body(automation_alert, receiver):
    receiver.answer(200, BODY_SECRET)
    firing = automation.fire(webhook_rule(receiver.url()), automation_alert)
    assert firing.result == FiringResult.DONE
    assert firing.detail == "webhook answered HTTP 200 OK"
    bodies = " ".join(TimelineEntry.objects.values_list("body", flat=True))
    assert "HTTP 200 OK" in bodies and BODY_SECRET not in bodies
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_automation_rule_form_refuses_an_internal_webhook_on_save(no_allowlist):
    from incidents.forms import AutomationRuleForm

    data = {"name": "restart", "enabled": "on", "alert_name": "X", "duration_minutes": "0",
            "action": AutomationAction.WEBHOOK, "max_per_hour": "5", "message": "m"}
    refused = AutomationRuleForm(data={**data, "webhook_url": "http://169.254.169.254/x"})
    accepted = AutomationRuleForm(data={**data, "webhook_url": "https://93.184.215.14/hook"})

    assert not refused.is_valid()
    assert "link-local" in " ".join(refused.errors["webhook_url"])
    assert "webhook_url" not in accepted.errors
    assert not AutomationRule.objects.filter(name="restart").exists()
