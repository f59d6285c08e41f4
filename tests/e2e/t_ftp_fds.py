"""FTP descriptor budget: one descriptor per client plus two per transfer.

1. max_transfers bounds the data channels, not the sessions: with
   max_transfers 2, thirty logged-in sessions are fine, a third PASV gets 425
   naming max_transfers, the session goes on, and the slot comes back when a
   transfer ends.
2. A daemon (FTP only, one loop) under RLIMIT_NOFILE 489 (prlimit) starts
   with max_clients 200 and max_transfers 100 (200 + 2 x 100, plus 25
   refusal slots for its one loop, plus 64; three per client would need
   689) and holds 200 logged-in FTPS sessions.
3. Out of descriptors (max_transfers raised by a reload past what was
   reserved, 100 throttled transfers and idle passive listeners): PASV and
   EPSV get 425 "out of file descriptors", a RETR after PASV gets 451, a
   RETR whose client connects its data channel only then gets 425 (the
   connection cannot be accepted; it would otherwise wait for the 30-second
   timeout), every session stays usable (NOOP), the shortage is logged, and once descriptors
   are free again the same sessions download."""
# pm-tsan: also run by make tsan (sessions of two loops share the slot count)
import hashlib
import os
import shutil
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, wide_pasv  # noqa: E402

FILE = "/pub/misc/speedtest-256K.bin"
SMALL = "/pub/misc/mirrors.txt"
NOFILE = 200 + 2 * 100 + 1 * (200 // 8) + 64  # limits.h: pm_fds_needed
SESSIONS = 200


class LowFdDaemon(pmtest.Daemon):
    def argv(self):
        return ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"] + super().argv()


def digest_of(d, path=FILE):
    with open(os.path.join(d.root, path.lstrip("/")), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def login_tls(r, ctx):
    """AUTH TLS (one shared client context: making one per session costs
    more than the session), anonymous login, PBSZ 0, PROT P."""
    r.auth_tls(ctx)
    r.login()
    r.code("PBSZ 0")
    return r.code("PROT P")


def transfer_slots():
    sets = {"max_transfers": "2", "max_per_ip": "0"}
    sets.update(wide_pasv(40))
    with pmtest.Daemon(sets=sets) as d:
        want = digest_of(d)
        rs = []
        for i in range(30):
            r = Raw(d.ftp_port)
            r.login()
            rs.append(r)
        pmtest.check_eq("30 sessions logged in with max_transfers 2", 30,
                        sum(1 for r in rs if r.code("NOOP") == 200))
        a, b, c = rs[0], rs[1], rs[2]
        pmtest.check_eq("first PASV: 227", 227, a.code("PASV"))
        pmtest.check_eq("second PASV: 227", 227, b.code("PASV"))
        code, text = c.cmd("PASV")
        pmtest.check_eq("third PASV: 425", 425, code)
        pmtest.check("the 425 names max_transfers", "max_transfers" in text, text)
        code, text = c.cmd("EPSV")
        pmtest.check_eq("third EPSV: 425 as well", 425, code)
        code, _ = c.cmd("EPRT |1|127.0.0.1|%d|" % pmtest.free_port())
        pmtest.check_eq("third EPRT: 425 as well", 425, code)
        pmtest.check_eq("the refused session goes on", 200, c.code("NOOP"))
        pmtest.check_eq("a PASV again on a session that holds a slot: 227", 227,
                        a.code("PASV"))
        # a's transfer ends: its slot is c's
        a.code("TYPE I")
        c1, data, c2 = a.retr_bytes("RETR " + FILE)
        pmtest.check_eq("transfer in a slot: 150 ... 226", (150, 226), (c1, c2))
        pmtest.check_eq("transfer in a slot: the bytes",
                        want, hashlib.sha256(data).hexdigest())
        c.code("TYPE I")
        ok = False
        for _ in range(50):  # the slot comes back after the session's next turn
            c1, data, c2 = c.retr_bytes("RETR " + FILE)
            if c1 == 150:
                ok = (c2 == 226 and hashlib.sha256(data).hexdigest() == want)
                break
            time.sleep(0.1)
        pmtest.check("the slot came back: the refused session downloads", ok)
        for r in rs:
            r.close()


def budget_and_shortage():
    pmtest.check("prlimit is installed", shutil.which("prlimit") is not None)
    sets = {"max_clients": "200", "max_transfers": "100", "max_per_ip": "0", "ftp_threads": "1",
            "https_listen": "off", "http_listen": "off",
            "rate_total": "20K"}
    sets.update(wide_pasv(300))
    d = LowFdDaemon(sets=sets, start=False)
    try:
        d.start()
        started = True
    except RuntimeError as e:
        started = False
        pmtest.check("200 clients, 100 transfers start under %d descriptors" % NOFILE,
                     False, str(e)[-400:])
    if not started:
        d.cleanup()
        return
    with d:
        pmtest.check("200 clients, 100 transfers start under %d descriptors" % NOFILE, True)
        want = digest_of(d, SMALL)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        rs = []
        for i in range(SESSIONS):
            try:
                r = Raw(d.ftp_port)
                login_tls(r, ctx)
                rs.append(r)
            except OSError as e:
                pmtest.check("session %d opens" % i, False, e)
                break
        pmtest.check_eq("%d FTPS sessions logged in" % SESSIONS, SESSIONS,
                        sum(1 for r in rs if r.code("NOOP") == 200))
        # An operator raises max_transfers past the descriptors reserved at
        # start-up (a reload does not raise RLIMIT_NOFILE): 100 throttled
        # transfers take two descriptors each, then passive listeners one
        # each until there are none left.
        d.write_conf({"max_transfers": "200"})
        d.reload()
        pmtest.check("reloaded", d.wait_log("reload done", timeout=10), d.log_text()[-400:])
        busy = []
        for r in rs[:100]:
            addr = r.pasv_addr()
            if addr is None:
                break
            dc = r.data_conn(addr)
            if r.code("RETR " + FILE) != 150:
                dc.close()
                break
            busy.append(r.ctx.wrap_socket(dc, session=r.sock.session))
        pmtest.check_eq("100 throttled transfers running", 100, len(busy))
        # One session is past RETR (150, file open) and has not connected
        # its data channel yet when the descriptors run out.
        waiter = rs[100]
        w_addr = waiter.pasv_addr()
        w_code = waiter.code("RETR " + SMALL) if w_addr else None
        pmtest.check_eq("a RETR waits for its data connection", 150, w_code)
        short = None
        last_ok = None
        for r in rs[101:]:
            code, text = r.cmd("PASV")
            if code == 227:
                last_ok = r
                continue
            short = (r, code, text)
            break
        pmtest.check("PASV without descriptors: 425", short is not None and short[1] == 425,
                     short and short[2])
        pmtest.check("the 425 says why", short is not None and "file descriptors" in short[2],
                     short and short[2])
        if short is not None:
            code, text = short[0].cmd("EPSV")
            pmtest.check_eq("EPSV without descriptors: 425", 425, code)
        if last_ok is not None:
            code, text = last_ok.cmd("RETR " + FILE)
            pmtest.check_eq("RETR after PASV without descriptors: 451", 451, code)
            pmtest.check("the 451 says why", "file descriptors" in text, text)
        if short is not None:
            # The 451 gave its listener's descriptor back: take it again,
            # so that none is free when the waiting client connects.
            pmtest.check_eq("the descriptor the 451 gave back serves a PASV", 227,
                            short[0].cmd("PASV")[0])
        if w_addr and w_code == 150:
            # Its client connects now: the server cannot accept it, drops
            # the listener (the client sees a reset or nothing) and says so.
            try:
                dc = waiter.data_conn(w_addr)
                dc.close()
            except OSError:
                pass
            code, text = waiter.reply()
            pmtest.check_eq("data connection refused for want of descriptors: 425", 425, code)
            pmtest.check("the 425 says why", "file descriptors" in str(text), text)
        pmtest.check_eq("every session not transferring still answers NOOP", len(rs) - 100,
                        sum(1 for r in rs[100:] if r.code("NOOP") == 200))
        pmtest.check("the shortage is logged",
                     d.wait_log("Too many open files", timeout=5), d.log_text()[-600:])
        # the throttled transfers give their descriptors back
        for r, dc in zip(rs[:100], busy):
            dc.close()
        cut = [r.reply()[0] for r in rs[:100]]
        pmtest.check("the cut transfers end with 426 (or 226)",
                     all(c in (426, 226) for c in cut), cut[:10])
        for r in rs[100:]:
            r.code("ABOR")  # drop the idle passive listeners
        for name, r in (("refused", short[0] if short else rs[150]), ("waiting", waiter),
                        ("451", last_ok or rs[151]), ("throttled", rs[0])):
            r.code("TYPE I")
            ok = False
            for _ in range(50):  # the descriptors come back within a turn
                c1, data, c2 = r.retr_bytes("RETR " + SMALL, tls=True)
                if c1 == 150:
                    ok = c2 == 226 and hashlib.sha256(data).hexdigest() == want
                    break
                time.sleep(0.1)
            pmtest.check("after the shortage the %s session downloads" % name, ok)
        for r in rs:
            r.close()
        pmtest.check_eq("the daemon is still running", None, d.proc.poll())


def main():
    transfer_slots()
    budget_and_shortage()
    pmtest.done()


main()
