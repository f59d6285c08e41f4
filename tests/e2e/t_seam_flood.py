"""The per-address limit bites at accept on every listener: one address
opens 2,000 connections (bare TCP and idle TLS to HTTPS, bare TCP to FTP)
against max_per_ip = 8 and max_clients = 1000; another address is still
served on HTTPS and FTP within a second, and a few seconds later the
flooder holds no more than max_per_ip open HTTPS connections."""
import ftplib
import resource
import socket
import ssl
import subprocess
import time

import hostile
import pmtest
from hostile import check

FLOOD = "127.0.0.3"
PER_IP = 8


def established(port, src):
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          "( sport = :%d )" % port], capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if (" %s:" % src) in l)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    with pmtest.Daemon(sets={"max_per_ip": str(PER_IP), "max_clients": "1000"}) as d:
        socks = []
        ctx = hostile.ssl_ctx(d)
        t_end = time.monotonic() + 60
        for i in range(2000):
            if time.monotonic() > t_end:
                break
            port = d.ftp_port if i % 4 == 3 else d.https_port
            s = socket.socket()
            s.settimeout(2.0)
            s.bind((FLOOD, 0))
            try:
                s.connect(("127.0.0.1", port))
                if i % 10 == 0 and port == d.https_port:
                    s = ctx.wrap_socket(s)  # an idle TLS connection
            except (OSError, ssl.SSLError):
                pass
            socks.append(s)
        print("# flood: %d connections from %s" % (len(socks), FLOOD))
        best = 99.0
        for _ in range(3):
            t0 = time.monotonic()
            r = d.curl("-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.2",
                       "--max-time", "10", path="/README")
            dt = time.monotonic() - t0
            if r.stdout == b"200":
                best = min(best, dt)
        print("# HTTPS from another address during the flood: %.3f s" % best)
        check("HTTPS from another address served within a second", best < 1.0, best)
        best = 99.0
        for _ in range(3):
            t0 = time.monotonic()
            try:
                f = ftplib.FTP(timeout=10, source_address=("127.0.0.2", 0))
                f.connect("127.0.0.1", d.ftp_port)
                f.login()
                f.quit()
                best = min(best, time.monotonic() - t0)
            except (OSError, ftplib.Error) as e:
                print("# FTP: %r" % e)
        print("# FTP login from another address during the flood: %.3f s" % best)
        check("FTP from another address served within a second", best < 1.0, best)
        time.sleep(8)  # refusal slots are cut after PM_REFUSE_TIMEOUT (5 s)
        n = established(d.https_port, FLOOD)
        print("# HTTPS connections of the flooder still open: %d" % n)
        check("the flooder holds at most max_per_ip HTTPS connections", n <= PER_IP, n)
        for s in socks:
            s.close()
    pmtest.done()


main()
