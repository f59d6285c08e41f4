"""PROXY protocol on the FTP listeners (proxy_protocol = ftp,ftps): the
header's client address is the session's peer (limiter, logs, data
checks); a connection without a header is refused; a proxied passive data
connection must name the same client in its own header."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, read_all, tls_ctx  # noqa: E402

CLIENT = "203.0.113.9"


class ProxiedRaw(Raw):
    def __init__(self, port, header, implicit_ctx=None):
        self.host = "127.0.0.1"
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(header)
        if implicit_ctx is not None:
            self.sock = implicit_ctx.wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()


def hdr(src, dport):
    return ("PROXY TCP4 %s 127.0.0.1 40000 %d\r\n" % (src, dport)).encode()


def main():
    with pmtest.Daemon(sets={"proxy_protocol": "ftp,ftps", "max_per_ip": "2"}) as d:
        with open(os.path.join(d.root, "README"), "rb") as f:
            readme = f.read()
        r = ProxiedRaw(d.ftp_port, hdr(CLIENT, d.ftp_port))
        pmtest.check_eq("proxied greeting", 220, r.greeting[0])
        r.login()
        r.code("TYPE I")
        c, t = r.cmd("STAT")
        pmtest.check("STAT shows the client from the header", CLIENT in t, t)
        # data connection with a header naming another client: refused
        addr = r.pasv_addr()
        bad = socket.create_connection(addr, timeout=5)
        bad.sendall(hdr("198.51.100.1", addr[1]))
        good = socket.create_connection(addr, timeout=5)
        good.sendall(hdr(CLIENT, addr[1]))
        c1 = r.code("RETR /README")
        data = read_all(good)
        good.close()
        stolen = b""
        try:
            stolen = bad.recv(100)
        except OSError:
            pass
        bad.close()
        pmtest.check_eq("proxied data connection of the right client gets the file", readme,
                        data)
        pmtest.check_eq("226", 226, r.reply()[0])
        pmtest.check_eq("data connection naming another client gets nothing", b"", stolen)
        pmtest.check("that refusal is logged", d.wait_log("PROXY header names another client"))
        # a data connection that sends no header does not cost the client
        # its own, arriving after it
        addr = r.pasv_addr()
        silent = socket.create_connection(addr, timeout=5)
        time.sleep(0.5)  # accepted and waiting for its header
        good = socket.create_connection(addr, timeout=5)
        good.sendall(hdr(CLIENT, addr[1]))
        c1 = r.code("RETR /README")
        try:
            data = read_all(good)
        except OSError as e:
            data = repr(e).encode()
        good.close()
        silent.close()
        pmtest.check_eq("after a silent data connection: 150", 150, c1)
        pmtest.check_eq("after a silent data connection the client still gets its file",
                        readme, data)
        pmtest.check_eq("after a silent data connection: 226", 226, r.reply()[0])
        # the limiter counts the header's address: 2 allowed, the third is 421
        r2 = ProxiedRaw(d.ftp_port, hdr(CLIENT, d.ftp_port))
        r3 = ProxiedRaw(d.ftp_port, hdr(CLIENT, d.ftp_port))
        pmtest.check_eq("max_per_ip applies to the header's address", [220, 421],
                        [r2.greeting[0], r3.greeting[0]])
        r4 = ProxiedRaw(d.ftp_port, hdr("192.0.2.50", d.ftp_port))
        pmtest.check_eq("another client behind the same proxy is let in", 220, r4.greeting[0])
        for x in (r2, r3, r4):
            x.close()
        # no header: refused (closed without a greeting)
        s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=5)
        s.sendall(b"USER anonymous\r\n")
        try:
            got = s.recv(100)
        except OSError:
            got = b""
        s.close()
        pmtest.check_eq("a connection without a PROXY header is closed", b"", got)
        # implicit FTPS behind the proxy
        ctx = tls_ctx(d)
        r.close()
        i = ProxiedRaw(d.ftps_port, hdr("192.0.2.51", d.ftps_port), implicit_ctx=ctx)
        pmtest.check_eq("implicit FTPS after a PROXY header", 220, i.greeting[0])
        pmtest.check_eq("login", 230, i.login()[0])
        i.close()
    pmtest.done()


main()
