"""acmetest - a real ACME CA for the certificate tests: Debian's pebble
with pebble-challtestsrv as its DNS (every name resolves to 127.0.0.1),
on free loopback ports, HTTP-01 pointed at the daemon's plain HTTP port.
Also the certificate a server presents, over HTTPS and both kinds of FTPS.
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pmtest

DOMAIN = "mirror.test"


def need(*tools):
    """A missing tool fails the test (it never skips)."""
    missing = [t for t in tools if shutil.which(t) is None]
    pmtest.check("tools present: " + " ".join(tools), not missing,
                 "missing %s; install: apt-get install pebble certbot" % missing)
    return not missing


class Pebble:
    def __init__(self, tmp, http_port, nonce_reject=None):
        # pebble refuses 5% of good nonces by default (badNonce), which a
        # client must retry.  Debian's certbot 2.1 crashes on that error
        # path under Python 3.11 ("AttributeError: can't set attribute",
        # certbot issue 9539, fixed in later releases), so its test turns
        # it off; the built-in client's test keeps pebble's default.
        self.nonce_reject = nonce_reject
        self.tmp = tmp
        self.port = pmtest.free_port()
        self.mgmt = pmtest.free_port()
        self.dns = pmtest.free_port()
        self.dns_mgmt = pmtest.free_port()
        self.cert = os.path.join(tmp, "pebble-cert.pem")
        self.key = os.path.join(tmp, "pebble-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        os.chmod(self.cert, 0o644)
        conf = {"pebble": {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
            "certificate": self.cert, "privateKey": self.key,
            "httpPort": http_port, "tlsPort": pmtest.free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        self.conf = os.path.join(tmp, "pebble.json")
        with open(self.conf, "w") as f:
            json.dump(conf, f)
        self.dnsproc = None
        self.proc = None
        self.logf = open(os.path.join(tmp, "pebble.log"), "ab")

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.port

    def start(self):
        if self.dnsproc is None:
            self.dnsproc = subprocess.Popen(
                ["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % self.dns,
                 "-http01", "", "-https01", "", "-tlsalpn01", "",
                 "-management", "127.0.0.1:%d" % self.dns_mgmt,
                 "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
                stdout=self.logf, stderr=subprocess.STDOUT)
            pmtest.wait_port(self.dns_mgmt, proc=self.dnsproc)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1")
        if self.nonce_reject is not None:
            env["PEBBLE_WFE_NONCEREJECT"] = str(self.nonce_reject)
        self.proc = subprocess.Popen(
            ["pebble", "-config", self.conf, "-dnsserver", "127.0.0.1:%d" % self.dns],
            stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        if not pmtest.wait_port(self.port, proc=self.proc):
            raise RuntimeError("pebble did not start:\n" + self.log_text())

    def stop_ca(self):
        """Stop pebble itself (the CA goes down); its DNS stays."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self.proc = None

    def log_text(self):
        with open(os.path.join(self.tmp, "pebble.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.stop_ca()
        if self.dnsproc is not None:
            self.dnsproc.terminate()
            self.dnsproc.wait(15)
            self.dnsproc = None
        self.logf.close()


def _ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def _line(f):
    return f.readline().decode("ascii", "replace")


def served_cert(kind, port):
    """DER of the leaf the server presents: kind https, ftps (implicit)
    or ftp (explicit AUTH TLS)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        if kind == "ftp":
            f = s.makefile("rb")
            _line(f)
            s.sendall(b"AUTH TLS\r\n")
            if not _line(f).startswith("234"):
                return None
        t = _ctx().wrap_socket(s, server_hostname=DOMAIN)
        der = t.getpeercert(binary_form=True)
        t.close()
        return der
    finally:
        s.close()


def pem_der(path):
    """DER of the first certificate of a PEM file."""
    with open(path) as f:
        text = f.read()
    first = text[:text.index("-----END CERTIFICATE-----") + 25]
    return ssl.PEM_cert_to_DER_cert(first)


def wait_served(d, der, timeout=30.0):
    """True when HTTPS, implicit FTPS and AUTH TLS all present der."""
    end = time.time() + timeout
    while time.time() < end:
        got = [served_cert("https", d.https_port), served_cert("ftps", d.ftps_port),
               served_cert("ftp", d.ftp_port)]
        if all(g == der for g in got):
            return True
        time.sleep(0.2)
    return False


def cert_text(der):
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject",
                        "-issuer", "-ext", "subjectAltName"], input=der,
                       capture_output=True)
    return r.stdout.decode("utf-8", "replace")
