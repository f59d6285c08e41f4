"""Shared pieces of the t_ftp_* tests: Raw, a small raw-socket FTP client;
wide_pasv(), a passive port range for busy tests; htpasswd(), a throwaway
auth_file.  Not a test itself (tests/run.sh runs only t_*)."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402


class Raw:
    """A raw FTP control connection: send lines, read (multi-line) replies."""

    def __init__(self, port, host="127.0.0.1", timeout=10, implicit_ctx=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if implicit_ctx is not None:
            self.sock = implicit_ctx.wrap_socket(self.sock, server_hostname=None)
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        end = time.time() + 15
        while b"\n" not in self.buf:
            if time.time() > end:
                raise TimeoutError("no reply line")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, full text) of one reply; code 0 when the connection closed."""
        try:
            first = self.line()
        except (EOFError, OSError, TimeoutError):
            return 0, ""
        text = [first]
        if len(first) >= 4 and first[3] == "-":
            code = first[:3]
            while True:
                ln = self.line()
                text.append(ln)
                if ln.startswith(code + " "):
                    break
        return int(first[:3]), "\n".join(text)

    def send(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.sock.sendall(line + b"\r\n")

    def cmd(self, line):
        self.send(line)
        return self.reply()

    def code(self, line):
        return self.cmd(line)[0]

    def login(self):
        self.cmd("USER anonymous")
        return self.cmd("PASS test@example.org")

    def login_prot(self, tls):
        """Log in anonymously; with tls, AUTH TLS first and PROT P after."""
        if tls:
            self.auth_tls()
        r = self.login()
        if tls:
            self.code("PBSZ 0")
            self.code("PROT P")
        return r

    def auth_tls(self, ctx=None):
        if ctx is None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.ctx = ctx
        r = self.cmd("AUTH TLS")
        if r[0] == 234:
            self.sock = ctx.wrap_socket(self.sock)
        return r

    def pasv_addr(self):
        c, t = self.cmd("EPSV")
        if c != 229:
            return None
        port = int(re.search(r"\(\|\|\|(\d+)\|\)", t).group(1))
        return (self.host, port)

    def data_conn(self, addr):
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(addr)
        return s

    def retr_bytes(self, cmd, tls=False):
        """Run a transfer command over EPSV; (preliminary code, bytes, final code)."""
        addr = self.pasv_addr()
        d = self.data_conn(addr)
        c1, _ = self.cmd(cmd)
        data = b""
        if c1 == 150:
            if tls:  # the server starts TLS once the command is accepted
                d = self.ctx.wrap_socket(d, session=self.sock.session)
            data = read_all(d)
            if tls:
                try:
                    d.unwrap()
                except (OSError, ValueError):
                    pass
            d.close()
            c2, _ = self.reply()
        else:
            d.close()
            c2 = None
        return c1, data, c2

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_ctx(d):
    """A client TLS context that trusts d's certificate (whose names are
    not 127.0.0.1's, hence no host name check)."""
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False
    return ctx


def read_all(sock, timeout=60):
    """Every byte from sock until the peer closes (at most timeout seconds)."""
    end = time.time() + timeout
    data = b""
    while True:
        if time.time() > end:
            raise TimeoutError("data connection still open after %ds" % timeout)
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def wide_pasv(n=100):
    """pasv_ports of n free ports: every passive transfer leaves its port in
    TIME_WAIT for a minute, and a busy test uses more than pmtest's 20."""
    lo, hi = pmtest.free_range(n)
    return {"pasv_ports": "%d-%d" % (lo, hi)}


def htpasswd(user, password):
    """An auth_file with one sha512-crypt user (outside the served tree)."""
    h = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                       check=True).stdout.decode().strip()
    fd, path = tempfile.mkstemp(prefix="pm-htpasswd-")
    with os.fdopen(fd, "w") as f:
        f.write("%s:%s\n" % (user, h))
    return path
