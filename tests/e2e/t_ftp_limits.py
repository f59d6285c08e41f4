"""FTP limits: 421 at the greeting when max_per_ip is reached, the idle
timeout, an exhausted passive range (425 for that command only), byte
rates, hash_max_size (556), ABOR and QUIT during a (throttled) transfer,
plain and under TLS."""
# pm-tsan: also run by make tsan (threads share the index, limiter and config)
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw  # noqa: E402

BIG = "/pub/misc/speedtest-256K.bin"


def abort_during_transfer(d, tls):
    tag = "TLS" if tls else "plain"
    r = Raw(d.ftp_port)
    r.login_prot(tls)
    r.code("TYPE I")
    addr = r.pasv_addr()
    dc = r.data_conn(addr)
    c1 = r.code("RETR " + BIG)
    if tls and c1 == 150:
        dc = r.ctx.wrap_socket(dc)
    got = dc.recv(4096)
    c, t = r.cmd("ABOR")
    codes = [c]
    if c == 426:
        codes.append(r.reply()[0])
    pmtest.check_eq("%s: ABOR during a transfer: 426 then 226" % tag, [426, 226], codes)
    pmtest.check("%s: some bytes came before ABOR" % tag, len(got) > 0)
    dc.close()
    pmtest.check_eq("%s: session alive after ABOR" % tag, 200, r.code("NOOP"))
    # QUIT during a transfer ends it cleanly
    addr = r.pasv_addr()
    dc = r.data_conn(addr)
    c1 = r.code("RETR " + BIG)
    if tls and c1 == 150:
        dc = r.ctx.wrap_socket(dc)
    dc.recv(4096)
    pmtest.check_eq("%s: QUIT during a transfer: 221" % tag, 221, r.code("QUIT"))
    pmtest.check_eq("%s: then the control connection closes" % tag, 0, r.reply()[0])
    dc.close()
    r.close()


def main():
    lo, hi = pmtest.free_range(1)
    sets = {"max_per_ip": "3", "idle_timeout": "2", "pasv_ports": "%d-%d" % (lo, hi)}
    with pmtest.Daemon(sets=sets) as d:
        # pmtest's readiness probes count against max_per_ip until the
        # daemon has seen them close (slow on sanitizer builds): wait until
        # three sessions fit, bounded.
        for _ in range(50):
            a, b, c = Raw(d.ftp_port), Raw(d.ftp_port), Raw(d.ftp_port)
            if [a.greeting[0], b.greeting[0], c.greeting[0]] == [220, 220, 220]:
                break
            for r in (a, b, c):
                r.close()
            time.sleep(0.1)
        x = Raw(d.ftp_port)
        pmtest.check_eq("sessions within max_per_ip greet 220", [220, 220, 220],
                        [a.greeting[0], b.greeting[0], c.greeting[0]])
        pmtest.check("over max_per_ip: 421 at the greeting",
                     x.greeting[0] == 421 and "many" in x.greeting[1], x.greeting)
        pmtest.check_eq("then the connection is closed", 0, x.reply()[0])
        x.close()
        c.close()
        b.close()
        a.login()
        pmtest.check_eq("EPSV takes the only passive port", 229, a.cmd("EPSV")[0])
        time.sleep(0.3)
        b = Raw(d.ftp_port)
        b.login()
        c, t = b.cmd("EPSV")
        pmtest.check("exhausted pasv_ports: 425 for that command", c == 425, t)
        pmtest.check_eq("the session survives the 425", 200, b.code("NOOP"))
        b.close()
        # idle timeout
        t0 = time.time()
        c, t = a.reply()
        pmtest.check("idle session: 421 after idle_timeout", c == 421 and "dle" in t, (c, t))
        pmtest.check("idle timeout took about 2 s", time.time() - t0 < 10)
        a.close()

    sets = {"rate_per_ip": "64K", "hash_max_size": "100K"}
    with pmtest.Daemon(sets=sets) as d:
        # hash_max_size
        r = Raw(d.ftp_port)
        r.login()
        c, t = r.cmd("HASH " + BIG)
        pmtest.check("HASH over hash_max_size: 556", c == 556, t)
        pmtest.check_eq("HASH of a small file works", 213, r.code("HASH /README"))
        # a rate-limited transfer still delivers every byte
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("RETR " + BIG)
        with open(os.path.join(d.root, BIG[1:]), "rb") as f:
            pmtest.check("rate_per_ip: the whole file arrives", data == f.read() and c2 == 226,
                         (c1, len(data), c2))
        r.close()

        abort_during_transfer(d, False)
        abort_during_transfer(d, True)
        time.sleep(0.5)
        with open(d.xfer_log) as f:
            xl = f.read()
        pmtest.check("aborted transfers are logged as incomplete (i)",
                     " i\n" in xl and "speedtest-256K.bin" in xl, xl[-400:])
    pmtest.done()


main()
