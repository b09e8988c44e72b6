# TLS of the postgres and redis checks against real loopback servers: a throwaway CA, a second CA
# the client must not trust, server certificates by subjectAltName, and a TLS server thread that
# answers PostgreSQL's SSLRequest or speaks enough RESP. _pgwire's negotiate_ssl is tested
# directly, then both checks through the module.
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import struct
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pgwire as pg
from ansible_collections.boosterbeacon.infra.plugins.modules import health_probe

SSL_REQUEST = struct.pack("!II", 8, 80877103)


class Pki:
    """Certificates and keys as PEM files in one directory. The extensions are those a strict
    verifier (Python 3.13's default) wants, so the happy paths hold on every Python."""

    def __init__(self, directory):
        self.directory = directory
        ca = self._issue("ca", "Test internal CA")
        self.ca_file = ca[0]
        self.other_ca_file = self._issue("other-ca", "Some other CA")[0]
        self.not_pem = str(directory / "not-a-ca.pem")
        (directory / "not-a-ca.pem").write_text("not a certificate\n")
        # Servers signed by the test CA, as (certificate file, key file), by their subjectAltName.
        self.db_and_ip = self._issue("db-and-ip", "db.internal", ["db.internal", "127.0.0.1"], ca)[:2]
        self.db_only = self._issue("db-only", "db.internal", ["db.internal"], ca)[:2]

    def _issue(self, name, common_name, names=None, issuer=None):
        """(certificate file, key file, (certificate, key)): a CA without issuer, else a server
        certificate for names (DNS names or IP addresses) signed by issuer."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        signer_name, signer_key = (issuer[2][0].subject, issuer[2][1]) if issuer else (subject, key)
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(signer_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                                  critical=False))
        if issuer:
            sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
            builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                       .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                       .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                      critical=True))
        else:
            builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                       .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                      critical=True))
        cert = builder.sign(signer_key, hashes.SHA256())
        cert_file, key_file = self.directory / (name + ".pem"), self.directory / (name + ".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return str(cert_file), str(key_file), (cert, key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


class TlsServer:
    """Accepts connections on 127.0.0.1 until stopped; each one optionally answers PostgreSQL's
    SSLRequest with 'S', then does the TLS handshake and hands the connection to serve.
    ``received`` collects what serve returns; ``failures`` the handshakes the client broke off."""

    def __init__(self, certificate, serve, postgres):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*certificate)
        self.serve, self.postgres = serve, postgres
        self.received, self.failures = [], []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            try:
                raw, _addr = self.listener.accept()
            except socket.timeout:
                continue
            raw.settimeout(5)
            try:
                if self.postgres:
                    assert raw.recv(8) == SSL_REQUEST
                    raw.sendall(b"S")
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    self.received.append(self.serve(conn) if self.serve else None)
            except OSError as exc:
                self.failures.append(exc)
            finally:
                raw.close()

    def stop(self):
        """Stop once the connection in hand is done (received and failures are complete then)."""
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def tls_server():
    """start(certificate, serve=None, postgres=False) -> a running TlsServer; all stop at teardown."""
    servers = []

    def start(certificate, serve=None, postgres=False):
        servers.append(TlsServer(certificate, serve, postgres))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# -- PostgreSQL: negotiate_ssl as libpq's sslmode --------------------------------------------------
def tls_to(server, host, mode, ca_file=None):
    """negotiate_ssl over a fresh connection to server, as if host were the server's name."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        return pg.negotiate_ssl(sock, host, mode, ca_file)
    except Exception:
        sock.close()
        raise


@pytest.mark.parametrize("mode,host", [("verify-full", "db.internal"), ("verify-ca", "other.internal"),
                                       ("require", "other.internal")])
def test_postgres_tls_verifies_what_the_mode_asks(pki, tls_server, mode, host):
    server = tls_server(pki.db_only, postgres=True)
    with tls_to(server, host, mode, pki.ca_file) as tls:
        assert tls.version().startswith("TLS")
        # A verified peer certificate is there to read; require verified nothing.
        assert bool(tls.getpeercert()) is (mode != "require")


@pytest.mark.parametrize("mode,host,ca_file,reason", [
    ("verify-full", "db.internal", "other_ca_file", "unable to get local issuer certificate"),
    ("verify-ca", "db.internal", "other_ca_file", "unable to get local issuer certificate"),
    ("verify-full", "other.internal", "ca_file", "Hostname mismatch, certificate is not valid for 'other.internal'"),
    ("verify-full", "db.internal", None, "unable to get local issuer certificate"),
])
def test_postgres_tls_refuses_what_does_not_verify(pki, tls_server, mode, host, ca_file, reason):
    server = tls_server(pki.db_only, postgres=True)
    ca_path = getattr(pki, ca_file) if ca_file else None
    with pytest.raises(pg.TlsError) as err:
        tls_to(server, host, mode, ca_path)
    assert err.value.message.startswith("TLS certificate verify failed: " + reason)
    assert err.value.message.endswith("(CA: %s)" % (ca_path or "the system's trust store"))
    server.stop()
    assert server.received == [] and len(server.failures) == 1


def test_postgres_query_over_verify_full(pki, tls_server):
    def postgres(conn):
        assert conn.recv(65536) == pg.startup_message("app", "db")
        conn.sendall(pg._msg(b"R", struct.pack("!I", 0)) + pg._msg(b"Z", b"I"))
        query = conn.recv(65536)
        conn.sendall(pg._msg(b"D", struct.pack("!Hi", 1, 1) + b"1") + pg._msg(b"Z", b"I"))
        conn.recv(65536)
        return query

    server = tls_server(pki.db_and_ip, postgres, postgres=True)
    rows = pg.query("127.0.0.1", server.port, "app", None, "db", ssl_mode="verify-full", ca_file=pki.ca_file)
    assert rows == [["1"]]
    server.stop()
    assert server.received == [pg._msg(b"Q", b"SELECT 1\0")]


# -- both checks through the module ----------------------------------------------------------------
def probe_once(run_module, check):
    """The check's entry in the report of one attempt."""
    result = run_module(health_probe, dict(checks=[check], retries=1, delay=0, timeout=5, fail_on_error=False))
    assert "redis-tls-pw" not in json.dumps(result)
    return result["checks"][0]


def test_postgres_verify_full_refused_names_host_and_reason(run_module, pki, tls_server):
    server = tls_server(pki.db_and_ip, postgres=True)
    check = probe_once(run_module, {"type": "postgres", "host": "127.0.0.1", "port": server.port, "user": "app",
                                    "ssl": "verify-full", "ca_file": pki.other_ca_file})
    assert check["error"] == ("PostgreSQL 127.0.0.1:%d: TLS certificate verify failed: unable to get local issuer "
                              "certificate (CA: %s)" % (server.port, pki.other_ca_file))
    assert check["hint"].endswith("openssl s_client -connect 127.0.0.1:%d -starttls postgres -CAfile %s </dev/null"
                                  % (server.port, pki.other_ca_file))


def redis_answers(conn):
    """+OK to AUTH, +PONG to PING; returns the commands received, in order."""
    commands = []
    while True:
        data = conn.recv(4096)
        if not data:
            return commands
        commands.append(data.split(b"\r\n")[2].decode())
        conn.sendall(b"+PONG\r\n" if commands[-1] == "PING" else b"+OK\r\n")


def redis_tls(port, ca_file):
    return {"type": "redis", "host": "127.0.0.1", "port": port, "tls": True, "ca_file": ca_file,
            "username": "app", "password": "redis-tls-pw"}


def test_redis_tls_verified(run_module, pki, tls_server):
    server = tls_server(pki.db_and_ip, redis_answers)
    assert probe_once(run_module, redis_tls(server.port, pki.ca_file))["ok"] is True
    server.stop()
    assert server.received == [["AUTH", "PING"]]


@pytest.mark.parametrize("certificate,ca_file,error,hint", [
    ("db_and_ip", "other_ca_file", "TLS certificate verify failed: unable to get local issuer certificate (CA: {ca})",
     "issued by {ca}? See what it presents: openssl s_client -connect 127.0.0.1:{port} -CAfile {ca} </dev/null"),
    ("db_only", "ca_file", "TLS certificate verify failed: IP address mismatch, certificate is not valid for "
     "'127.0.0.1'. (CA: {ca})", "does not name 127.0.0.1: set host to a name in its subjectAltName"),
    ("db_and_ip", "", "TLS certificate verify failed: unable to get local issuer certificate "
     "(CA: the system's trust store)", "issued by a CA in the system's trust store?"),
    ("db_and_ip", "not_pem", "TLS CA file {ca} cannot be loaded: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate",
     "Put the CA's certificate (PEM) at {ca} on the host"),
])
def test_redis_tls_refused_before_auth(run_module, pki, tls_server, certificate, ca_file, error, hint):
    server = tls_server(getattr(pki, certificate), redis_answers)
    ca = getattr(pki, ca_file) if ca_file else ""
    check = probe_once(run_module, redis_tls(server.port, ca))
    assert check["error"].startswith("Redis at 127.0.0.1:%d: %s" % (server.port, error.format(ca=ca)))
    assert hint.format(ca=ca, port=server.port) in check["hint"]
    server.stop()
    # No handshake completed, so AUTH and its password never went out.
    assert server.received == []
