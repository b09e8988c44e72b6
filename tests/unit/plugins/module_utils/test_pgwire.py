# The PostgreSQL wire client against scripted server bytes, and SCRAM against RFC 7677.
from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import struct

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pgwire as pg


def msg(kind, payload=b""):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def auth(code, extra=b""):
    return msg(b"R", struct.pack("!I", code) + extra)


READY = msg(b"S", b"server_version\x0017\x00") + msg(b"K", b"\0" * 8) + msg(b"Z", b"I")
ROW_1 = (msg(b"T", b"\0\x01?column?\0" + b"\0" * 18) + msg(b"D", struct.pack("!Hi", 1, 1) + b"1")
         + msg(b"C", b"SELECT 1\0") + msg(b"Z", b"I"))


class FakeSocket:
    def __init__(self, replies):
        self.replies = list(replies)
        self.sent = []

    def sendall(self, data):
        self.sent.append(data)

    def recv(self, _n):
        return self.replies.pop(0) if self.replies else b""

    def close(self):
        pass


def test_scram_matches_rfc7677():
    scram = pg.Scram("pencil", nonce="rOprNGfwEbeRWgbNEkqO", username="user")
    assert scram.client_first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = scram.client_final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert final == ("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    scram.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    with pytest.raises(pg.PgError, match="signature"):
        scram.verify("v=AAAA")


def test_scram_rejects_a_nonce_that_is_not_ours():
    with pytest.raises(pg.PgError, match="nonce"):
        pg.Scram("x", nonce="abc").client_final("r=zzz,s=AAAA,i=1")


def test_md5_password():
    expected = "md5" + hashlib.md5(hashlib.md5(b"secretapp").hexdigest().encode() + b"salt").hexdigest()
    assert pg.md5_password("app", "secret", b"salt") == expected


def run(replies, monkeypatch, **kw):
    sock = FakeSocket(replies)
    monkeypatch.setattr(pg, "open_socket", lambda host, port, timeout: sock)
    args = dict(host="127.0.0.1", port=5432, user="app", password="secret", database="db", ssl_mode="disable")
    args.update(kw)
    return pg.query(**args), sock


def test_trust_login_and_select(monkeypatch):
    rows, sock = run([auth(0) + READY, ROW_1], monkeypatch)
    assert rows == [["1"]]
    assert sock.sent[0] == pg.startup_message("app", "db")
    assert sock.sent[1] == msg(b"Q", b"SELECT 1\0")
    assert sock.sent[2] == msg(b"X")


def test_cleartext_and_md5_logins(monkeypatch):
    _rows, sock = run([auth(3), auth(0) + READY, ROW_1], monkeypatch)
    assert sock.sent[1] == msg(b"p", b"secret\0")
    _rows, sock = run([auth(5, b"salt"), auth(0) + READY, ROW_1], monkeypatch)
    assert sock.sent[1] == msg(b"p", pg.md5_password("app", "secret", b"salt").encode() + b"\0")


def test_scram_login(monkeypatch):
    salt, iterations = b"0123456789abcdef", 4096
    state = {}

    class Server(FakeSocket):
        def sendall(self, data):
            super().sendall(data)
            if data.startswith(b"p") and b"SCRAM-SHA-256" in data:
                first_bare = data.split(b"n,,", 1)[1].decode()
                state["bare"] = first_bare
                nonce = first_bare.split("r=", 1)[1] + "server"
                state["server_first"] = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(), iterations)
                self.replies.append(auth(11, state["server_first"].encode()))
            elif data.startswith(b"p"):
                final = data[5:].decode()
                without_proof = final.rsplit(",p=", 1)[0]
                salted = hashlib.pbkdf2_hmac("sha256", b"secret", salt, iterations)
                message = ",".join((state["bare"], state["server_first"], without_proof)).encode()
                server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
                signature = base64.b64encode(hmac.new(server_key, message, hashlib.sha256).digest()).decode()
                self.replies.append(auth(12, ("v=" + signature).encode()) + auth(0) + READY)
            elif data.startswith(b"Q"):
                self.replies.append(ROW_1)

    sock = Server([auth(10, b"SCRAM-SHA-256\0\0")])
    monkeypatch.setattr(pg, "open_socket", lambda host, port, timeout: sock)
    assert pg.query("h", 5432, "app", "secret", "db", ssl_mode="disable") == [["1"]]


def test_server_error_is_reported_with_its_code(monkeypatch):
    error = msg(b"E", b"SFATAL\0C28P01\0Mpassword authentication failed for user \"app\"\0\0")
    with pytest.raises(pg.PgError) as err:
        run([auth(3), error], monkeypatch)
    assert err.value.code == "28P01"
    assert "password authentication failed" in err.value.message


def test_password_required_and_unknown_methods(monkeypatch):
    with pytest.raises(pg.PgError, match="asks for a password"):
        run([auth(3)], monkeypatch, password=None)
    with pytest.raises(pg.PgError, match="unsupported authentication method 7"):
        run([auth(7)], monkeypatch)
    with pytest.raises(pg.PgError, match="no supported SASL"):
        run([auth(10, b"SCRAM-SHA-256-PLUS\0\0")], monkeypatch)


def test_query_error_and_nulls(monkeypatch):
    failing = msg(b"E", b"SERROR\0C42P01\0Mrelation missing\0\0") + msg(b"Z", b"I")
    with pytest.raises(pg.PgError, match="relation missing"):
        run([auth(0) + READY, failing], monkeypatch)
    null_row = msg(b"D", struct.pack("!Hi", 1, -1)) + msg(b"Z", b"I")
    rows, _sock = run([auth(0) + READY, null_row], monkeypatch)
    assert rows == [[None]]


def test_closed_connection(monkeypatch):
    with pytest.raises(pg.PgError, match="closed the connection"):
        run([], monkeypatch)


def test_ssl_require_without_server_tls():
    sock = FakeSocket([b"N"])
    with pytest.raises(pg.PgError, match="does not offer TLS"):
        pg.negotiate_ssl(sock, "db", "require")
    assert sock.sent == [struct.pack("!II", 8, 80877103)]
    assert pg.negotiate_ssl(FakeSocket([b"N"]), "db", "prefer") is not None
    plain = FakeSocket([])
    assert pg.negotiate_ssl(plain, "/var/run/postgresql", "require") is plain


def test_unix_socket_path(tmp_path):
    with pytest.raises(OSError):
        pg.open_socket(str(tmp_path), 5432, 1)


def test_tls_handshake_with_a_server_that_speaks_no_tls():
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    plain, _addr = listener.accept()
    # Plain text where the server's TLS handshake should be.
    plain.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    with pytest.raises(pg.TlsError, match="^TLS handshake failed: .*wrong version number$"):
        pg.start_tls(client, "db.internal", "full")
    for sock in (client, plain, listener):
        sock.close()


def test_verifying_modes_need_tls_from_the_server():
    for mode in ("verify-ca", "verify-full"):
        with pytest.raises(pg.TlsError, match="does not offer TLS and ssl=%s" % mode):
            pg.negotiate_ssl(FakeSocket([b"N"]), "db", mode)
    with pytest.raises(ValueError, match="unknown ssl mode 'verify_full'"):
        pg.negotiate_ssl(FakeSocket([]), "db", "verify_full")


def test_tls_ca_file_that_cannot_be_loaded(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    for ca_file, reason in ((tmp_path / "missing.pem", "No such file"), (not_pem, "no certificate")):
        client, server = socket.socketpair()
        with pytest.raises(pg.TlsError, match="^TLS CA file %s cannot be loaded: .*%s" % (ca_file, reason)):
            pg.start_tls(client, "db.internal", "ca", str(ca_file))
        # Refused before anything went out.
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.recv(1)
        client.close()
        server.close()
