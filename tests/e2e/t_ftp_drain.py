"""SIGTERM drains: a running (throttled) transfer finishes with 226 and
every byte, an idle session is told 421, new connections are refused, and
the daemon exits 0."""
# pm-tsan: also run by make tsan (threads share the index, limiter and config)
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, read_all  # noqa: E402

BIG = "/pub/misc/speedtest-256K.bin"


def main():
    with pmtest.Daemon(sets={"rate_per_ip": "128K", "drain_timeout": "20"}) as d:
        with open(os.path.join(d.root, BIG[1:]), "rb") as f:
            src = f.read()
        idle = Raw(d.ftp_port)
        idle.login()
        r = Raw(d.ftp_port)
        r.login()
        r.code("TYPE I")
        addr = r.pasv_addr()
        dc = r.data_conn(addr)
        pmtest.check_eq("RETR starts", 150, r.code("RETR " + BIG))
        data = dc.recv(65536)
        os.kill(d.pid, signal.SIGTERM)
        c, t = idle.reply()
        pmtest.check("idle session: 421 on shutdown", c == 421, (c, t))
        data += read_all(dc)
        dc.close()
        pmtest.check_eq("the running transfer finishes with every byte", src, data)
        pmtest.check_eq("and 226", 226, r.reply()[0])
        refused = False
        try:
            s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=3)
            refused = s.recv(100) == b""
            s.close()
        except OSError:
            refused = True
        pmtest.check("new connections are not served while draining", refused)
        r.close()
        idle.close()
        end = time.time() + 20
        while time.time() < end and d.proc.poll() is None:
            time.sleep(0.1)
        pmtest.check_eq("the daemon exits 0", 0, d.proc.poll())
    pmtest.done()


main()
