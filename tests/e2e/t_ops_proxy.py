"""PROXY protocol behind a load balancer (proxy_protocol = ftp,https):
v1 and v2 headers with a fake client address are accepted, and that
address is what the access log, the transfer log and the limiter see, and
what FTP's data-connection check compares (the balancer sends a header on
the passive ports too, as HAProxy does with send-proxy: it must name the
same client); a connection without a header on such a listener is
refused; on a listener not configured for it (implicit FTPS here, and FTP
in a second daemon) a header is never trusted."""
import io
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

FILE = "pub/misc/mirrors.txt"


def v1(src, sport, dst, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, sport, dst, dport):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if ":" in src:
        addrs = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        fam = 0x21
    else:
        addrs = socket.inet_aton(src) + socket.inet_aton(dst)
        fam = 0x11
    body = addrs + struct.pack("!HH", sport, dport)
    return sig + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def https_get(d, header, path="/pub/", ctx=None):
    """GET over TLS after sending header (None: none); (status, body) or
    (None, error)."""
    s = socket.create_connection(("127.0.0.1", d.https_port), timeout=10)
    try:
        if header:
            s.sendall(header)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            b = t.recv(65536)
            if not b:
                break
            data += b
        t.close()
        line = data.split(b"\r\n", 1)[0].split()
        return int(line[1]), data
    except (OSError, ssl.SSLError, IndexError, ValueError) as e:
        return None, repr(e)
    finally:
        s.close()


class ProxiedFTP(ftplib.FTP):
    """ftplib behind a balancer that speaks the PROXY protocol on the
    control port and on the passive ports (as HAProxy does with
    send-proxy on both): a header first on every connection.  data_client:
    the client the data connections' headers name."""

    def __init__(self, header, data_source, data_client=None, **kw):
        super().__init__(**kw)
        self.pm_header = header
        self.pm_source = data_source
        self.pm_data_client = data_client

    def ntransfercmd(self, cmd, rest=None):
        host, port = self.makepasv()
        conn = socket.create_connection((host, port), self.timeout,
                                        source_address=self.source_address)
        try:
            if self.pm_data_client:
                conn.sendall(v1(self.pm_data_client, 50000, host, port))
            if rest is not None:
                self.sendcmd("REST %s" % rest)
            resp = self.sendcmd(cmd)
            if resp[0] == "2":
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)
        except BaseException:
            conn.close()
            raise
        return conn, None

    def connect(self, host, port, timeout=15):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout)
        self.af = self.sock.family
        if self.pm_header:
            self.sock.sendall(self.pm_header)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        self.source_address = self.pm_source  # data connections only
        return self.welcome


def wait_in(path, needle, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, "rb") as f:
                if needle.encode() in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def main():
    with pmtest.Daemon(sets={"proxy_protocol": "ftp,https", "max_per_ip": "2"}) as d:
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False

        st, body = https_get(d, v1("203.0.113.9", 40001, "192.0.2.1", 443), "/pub/?v1", ctx)
        pmtest.check_eq("HTTPS with a v1 header: 200", 200, st)
        pmtest.check("access log shows the v1 client",
                     wait_in(d.access_log, "203.0.113.9 - - ["), read(d.access_log)[-400:])
        st, body = https_get(d, v2("2001:db8::77", 40002, "2001:db8::1", 443), "/pub/?v2", ctx)
        pmtest.check_eq("HTTPS with a v2 header (IPv6): 200", 200, st)
        pmtest.check("access log shows the v2 client", wait_in(d.access_log, "2001:db8::77 - - ["),
                     read(d.access_log)[-400:])
        lines = [l for l in read(d.access_log).splitlines() if "?v1" in l or "?v2" in l]
        pmtest.check("the balancer's address is not logged for them",
                     lines and not any(l.startswith("127.0.0.1 ") for l in lines), lines)

        st, body = https_get(d, None, "/pub/?noheader", ctx)
        pmtest.check("HTTPS without a header on a proxy listener: refused", st is None, body)
        pmtest.check("refused connection not in the access log",
                     "noheader" not in read(d.access_log))

        # The limiter sees the header's address: max_per_ip = 2 per client,
        # not per balancer.
        held = []
        for i in range(3):
            s = socket.create_connection(("127.0.0.1", d.https_port), timeout=10)
            s.sendall(v1("198.51.100.%d" % (10 + i), 1000 + i, "192.0.2.1", 443))
            held.append(ctx.wrap_socket(s, server_hostname="localhost"))
        st, _ = https_get(d, v1("198.51.100.99", 999, "192.0.2.1", 443), "/pub/?fourth", ctx)
        pmtest.check_eq("other fake clients are not limited by the balancer's count", 200, st)
        for t in held:
            t.close()

        # FTP with a header naming 127.0.0.2: login, listing and a download
        # whose data connection comes from 127.0.0.2.
        f = ProxiedFTP(v2("127.0.0.2", 40100, "127.0.0.1", d.ftp_port), ("127.0.0.2", 0),
                       "127.0.0.2", timeout=15)
        try:
            f.connect("127.0.0.1", d.ftp_port)
            pmtest.check("FTP with a v2 header: greeting", f.welcome.startswith("220"),
                         f.welcome)
            f.login("anonymous", "proxy@example.org")
            buf = io.BytesIO()
            f.retrbinary("RETR " + FILE, buf.write)
            with open(os.path.join(d.root, FILE), "rb") as fh:
                pmtest.check_eq("FTP download through the header's address", fh.read(),
                                buf.getvalue())
            f.quit()
        except (OSError, ftplib.Error, EOFError) as e:
            pmtest.check("FTP session with a PROXY header", False, repr(e))
        pmtest.check("xferlog shows the header's client",
                     wait_in(d.xfer_log, " 127.0.0.2 "), read(d.xfer_log)[-400:])

        # FTP v1, and a data connection whose header names another client:
        # the data-connection check refuses it (no port theft through the
        # balancer).
        f = ProxiedFTP(v1("127.0.0.3", 40200, "127.0.0.1", d.ftp_port), None, "127.0.0.9",
                       timeout=15)
        try:
            f.connect("127.0.0.1", d.ftp_port)
            f.login("anonymous", "proxy@example.org")
            try:
                f.retrbinary("RETR " + FILE, io.BytesIO().write)
                pmtest.check("data connection from another address refused", False)
            except (ftplib.Error, OSError, EOFError) as e:
                pmtest.check("data connection from another address refused", True, e)
            f.close()
        except (OSError, ftplib.Error, EOFError) as e:
            pmtest.check("FTP with a v1 header: session", False, repr(e))

        # No header on the FTP proxy listener: no greeting, closed.
        s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=10)
        s.sendall(b"USER anonymous\r\n")
        try:
            got = s.recv(200)
        except OSError:
            got = b""
        s.close()
        pmtest.check("FTP without a header: closed, no greeting", not got.startswith(b"220"),
                     got)

        # Implicit FTPS is not a proxy listener here: a header is garbage
        # to it, never an address.
        s = socket.create_connection(("127.0.0.1", d.ftps_port), timeout=10)
        s.sendall(v1("203.0.113.66", 1, "192.0.2.1", 990))
        try:
            t = ctx.wrap_socket(s, server_hostname="localhost")
            t.recv(100)
            t.close()
            handshake = True
        except (OSError, ssl.SSLError):
            handshake = False
        s.close()
        pmtest.check("header on a non-proxy listener: no session", not handshake)
        time.sleep(0.3)
        pmtest.check("header on a non-proxy listener: its address never used",
                     "203.0.113.66" not in d.log_text() + read(d.access_log) + read(d.xfer_log))

    # A second daemon with HTTPS only behind the balancer: plain FTP takes
    # a header line as a bad command and logs the real peer.
    with pmtest.Daemon(sets={"proxy_protocol": "https"}) as d:
        s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=10)
        f = s.makefile("rb")
        greet = f.readline()
        s.sendall(v1("203.0.113.77", 1, "192.0.2.1", 21))
        reply = f.readline()
        s.sendall(b"USER anonymous\r\nPASS x@y\r\n")
        f.readline()
        f.readline()
        s.close()
        pmtest.check("FTP not behind the balancer: greeting without waiting for a header",
                     greet.startswith(b"220"), greet)
        pmtest.check("a PROXY line is just an unknown command there", reply[:1] == b"5", reply)
        time.sleep(0.3)
        pmtest.check("its address is never used", "203.0.113.77" not in d.log_text())
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        st, _ = https_get(d, v1("203.0.113.78", 2, "192.0.2.1", 443), "/pub/", ctx)
        pmtest.check_eq("HTTPS behind the balancer still works", 200, st)
    pmtest.done()


if __name__ == "__main__":
    main()
