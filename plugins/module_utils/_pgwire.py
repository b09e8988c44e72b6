# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal PostgreSQL client (protocol 3.0) in the standard library: connect, authenticate
(trust, password, md5, SCRAM-SHA-256), run one simple query, hang up. It lets a health check
reach PostgreSQL from hosts that have neither psql nor a driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import os
import re
import socket
import ssl
import struct


class PgError(Exception):
    """A failure with the server's own words where it sent some (severity, SQLSTATE, message)."""

    def __init__(self, message, code=None):
        super(PgError, self).__init__(message)
        self.message = message
        self.code = code


def _msg(kind, payload):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def startup_message(user, database):
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    payload = struct.pack("!I", 196608) + params
    return struct.pack("!I", len(payload) + 4) + payload


def parse_error(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[part[:1].decode()] = part[1:].decode("utf-8", "replace")
    return PgError("%s: %s" % (fields.get("S", "ERROR"), fields.get("M", "unknown error")), fields.get("C"))


def md5_password(user, password, salt):
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


class Scram:
    """SCRAM-SHA-256 client side (RFC 5802 / 7677)."""

    def __init__(self, password, nonce=None, username=""):
        self.password = password.encode()
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=%s,r=%s" % (username, self.nonce)
        self.server_signature = None

    def client_first(self):
        return "n,," + self.first_bare

    def client_final(self, server_first):
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise PgError("SCRAM: the server's nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        auth_message = ",".join((self.first_bare, server_first, without_proof)).encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        return without_proof + ",p=" + base64.b64encode(proof).decode()

    def verify(self, server_final):
        attrs = dict(item.split("=", 1) for item in server_final.split(","))
        if attrs.get("v") != self.server_signature:
            raise PgError("SCRAM: the server's signature is wrong (not the server we think?)")


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PgError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_message(self):
        kind = self._read(1)
        length = struct.unpack("!I", self._read(4))[0]
        return kind, self._read(length - 4)


def open_socket(host, port, timeout):
    if host.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(os.path.join(host, ".s.PGSQL.%d" % port))
        return sock
    return socket.create_connection((host, port), timeout=timeout)


# What each sslmode that asks for TLS verifies of the server's certificate (start_tls's verify).
SSL_VERIFY = {"prefer": "none", "require": "none", "verify-ca": "ca", "verify-full": "full"}


class TlsError(PgError):
    """TLS could not be set up: the CA file, the handshake or the server's certificate."""


def _ssl_reason(exc):
    # OpenSSL's words without the "(_ssl.c:1006)" that locates them in CPython.
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc))


def start_tls(sock, host, verify="full", ca_file=None):
    """Wrap a connected socket in TLS. verify: "none" encrypts only, "ca" checks the server's
    chain against ca_file (PEM) or, without one, the system's trust store, "full" also checks
    host against the certificate's names. Failures raise TlsError with the reason."""
    if verify == "none":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            context = ssl.create_default_context(cafile=ca_file or None)
        except (IOError, OSError) as exc:
            raise TlsError("TLS CA file %s cannot be loaded: %s" % (ca_file, _ssl_reason(exc)))
        # Python 3.13 turned on strict X.509 checks that libpq and redis-cli do not make; they
        # refuse certificates of internal CAs that both of those accept.
        context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
        context.check_hostname = verify == "full"
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise TlsError("TLS certificate verify failed: %s (CA: %s)" % (
            exc.verify_message or _ssl_reason(exc), ca_file or "the system's trust store"))
    except ssl.SSLError as exc:
        raise TlsError("TLS handshake failed: %s" % _ssl_reason(exc))


def negotiate_ssl(sock, host, mode, ca_file=None):
    """SSLRequest, as libpq's sslmode: disable skips it, prefer falls back to plain text, the
    others fail without TLS. require encrypts without verifying; verify-ca verifies the chain
    against ca_file (the system's trust store without one), verify-full the host name too.
    Unix sockets never use TLS, as with libpq."""
    if mode != "disable" and mode not in SSL_VERIFY:
        raise ValueError("unknown ssl mode %r" % mode)
    if mode == "disable" or host.startswith("/"):
        return sock
    sock.sendall(struct.pack("!II", 8, 80877103))
    if sock.recv(1) != b"S":
        if mode == "prefer":
            return sock
        raise TlsError("the server does not offer TLS and ssl=%s" % mode)
    return start_tls(sock, host, SSL_VERIFY[mode], ca_file)


def authenticate(conn, user, password):
    scram = None
    while True:
        kind, payload = conn.read_message()
        if kind == b"E":
            raise parse_error(payload)
        if kind != b"R":
            if kind in (b"S", b"K"):
                continue
            if kind == b"Z":
                return
            continue
        code = struct.unpack("!I", payload[:4])[0]
        if code == 0:
            continue
        if password is None:
            raise PgError("the server asks for a password and none was given")
        if code == 3:
            conn.send(_msg(b"p", password.encode() + b"\0"))
        elif code == 5:
            conn.send(_msg(b"p", md5_password(user, password, payload[4:8]).encode() + b"\0"))
        elif code == 10:
            mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m]
            if "SCRAM-SHA-256" not in mechanisms:
                raise PgError("no supported SASL mechanism among %s" % ", ".join(mechanisms))
            scram = Scram(password)
            first = scram.client_first().encode()
            conn.send(_msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
        elif code == 11:
            conn.send(_msg(b"p", scram.client_final(payload[4:].decode()).encode()))
        elif code == 12:
            scram.verify(payload[4:].decode())
        else:
            raise PgError("unsupported authentication method %d" % code)


def simple_query(conn, sql):
    conn.send(_msg(b"Q", sql.encode() + b"\0"))
    rows, error = [], None
    while True:
        kind, payload = conn.read_message()
        if kind == b"D":
            count = struct.unpack("!H", payload[:2])[0]
            pos, row = 2, []
            for _column in range(count):
                size = struct.unpack("!i", payload[pos:pos + 4])[0]
                pos += 4
                if size < 0:
                    row.append(None)
                else:
                    row.append(payload[pos:pos + size].decode())
                    pos += size
            rows.append(row)
        elif kind == b"E":
            error = parse_error(payload)
        elif kind == b"Z":
            if error is not None:
                raise error  # pylint: disable=raising-bad-type
            return rows


def query(host, port, user, password, database, sql="SELECT 1", ssl_mode="prefer", timeout=5.0, ca_file=None):
    """Connect, authenticate, run sql, return its rows (lists of text)."""
    sock = open_socket(host, port, timeout)
    try:
        sock = negotiate_ssl(sock, host, ssl_mode, ca_file)
        conn = Connection(sock)
        conn.send(startup_message(user, database))
        authenticate(conn, user, password)
        rows = simple_query(conn, sql)
        conn.send(_msg(b"X", b""))
        return rows
    finally:
        sock.close()
