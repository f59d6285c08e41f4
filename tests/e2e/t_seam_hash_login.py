"""Anonymous HASH cannot starve logins: with big digests (sparse 16 GiB
files, SHA-512: tens of seconds each) asked by 16 anonymous clients from 16
addresses, an
FTPS password login (AUTH TLS, USER, PASS) completes while every one of
those digests is still unanswered; a third digest from one address is 450
naming the per-address limit; and digests whose clients disconnect stop:
a small digest asked afterwards is answered long before one big digest
could have finished (the time of one big digest is measured first, here,
from a digest of 1/64 of one), and the daemon logs each cancelled digest;
ABOR stops a running digest (426, 226) and the session goes on.
The big digests are never waited for: the test takes seconds."""
# pm-tsan: also run by make tsan (the worker queues are shared by the loops)
import ftplib
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, htpasswd, tls_ctx  # noqa: E402

BIG = 16 << 30  # sparse: no disk used, still 16 GiB to read and hash
CAL = BIG // 64  # the part hashed to measure the speed
HASHERS = 16
SMALL = os.urandom(1 << 20)
PASSWORD = "s3cret-pass"


class RawFrom(Raw):
    """Raw, connected from a chosen loopback source address."""

    def __init__(self, port, src, timeout=30):
        self.host = "127.0.0.1"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((src, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.greeting = self.reply()


def make_tree():
    top = tempfile.mkdtemp(prefix="pm-seam-hash-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "root")
    os.mkdir(root, 0o755)
    # distinct files: digests are cached by path, size, mtime and range
    names = ["cal.iso"] + ["big%02d.iso" % i for i in range(HASHERS)] + \
        ["share%d.iso" % i for i in range(3)]
    for n in names:
        with open(os.path.join(root, n), "wb") as f:
            f.truncate(BIG)
    with open(os.path.join(root, "small.bin"), "wb") as f:
        f.write(SMALL)
    for n in os.listdir(root):
        os.chmod(os.path.join(root, n), 0o644)
    return top, root


def hasher(d, src, name):
    """An anonymous session from src that asked for the SHA-512 of name;
    returns once the daemon has queued it (STAT, allowed while a digest
    runs, is answered after the HASH was taken)."""
    c = RawFrom(d.ftp_port, src)
    c.login()
    c.code("OPTS HASH SHA-512")
    c.send("HASH /" + name)
    code, text = c.cmd("STAT")
    return c, code, text


def unanswered(c):
    """True when nothing has come back on c since the STAT reply."""
    if c.buf:
        return False
    c.sock.setblocking(False)
    try:
        got = c.sock.recv(100, socket.MSG_PEEK)
    except BlockingIOError:
        got = b""
    finally:
        c.sock.setblocking(True)
        c.sock.settimeout(30)
    return got == b""


def main():
    top, root = make_tree()
    auth = htpasswd("alice", PASSWORD)
    try:
        sets = {"auth_file": auth, "hash_max_size": "64G"}
        with pmtest.Daemon(tree=root, sets=sets) as d:
            # --- the time one big digest takes, alone: 1/64 of it, times 64 ---
            cal = RawFrom(d.ftp_port, "127.0.0.2", timeout=120)
            cal.login()
            cal.code("OPTS HASH SHA-512")
            cal.code("RANG 0 %d" % (CAL - 1))
            t0 = time.monotonic()
            code, text = cal.cmd("HASH /cal.iso")
            t_big = (time.monotonic() - t0) * (BIG // CAL)
            pmtest.check("a 256 MiB digest answered",
                         code == 213 and " 0-%d " % (CAL - 1) in text, text)
            cal.close()
            print("# one 16 GiB SHA-512 digest alone would take %.1fs" % t_big)

            # --- 16 anonymous clients, each a big digest ---
            hashers = []
            for i in range(HASHERS):
                c, code, text = hasher(d, "127.0.0.%d" % (10 + i), "big%02d.iso" % i)
                hashers.append(c)
                if code != 211:
                    pmtest.check("hasher %d queued (STAT 211)" % i, False, (code, text))
            pmtest.check("16 digests asked, none answered yet",
                         all(unanswered(c) for c in hashers))

            # --- an FTPS password login meanwhile ---
            f = ftplib.FTP_TLS(context=tls_ctx(d))
            f.connect("127.0.0.1", d.ftp_port, timeout=15)
            t0 = time.monotonic()
            try:
                f.auth()
                r = f.login("alice", PASSWORD)
            except (OSError, EOFError, ftplib.Error) as e:
                r = "no reply: %r" % (e,)
            t_login = time.monotonic() - t0
            print("# FTPS password login during the digests: %.3fs" % t_login)
            pending = sum(1 for c in hashers if unanswered(c))
            pmtest.check("FTPS password login: 230", r.startswith("230"), r)
            pmtest.check("the login completed while all 16 digests were unanswered",
                         r.startswith("230") and pending == HASHERS,
                         "%s; %d of %d unanswered" % (r, pending, HASHERS))
            try:
                f.quit()
            except (OSError, EOFError, ftplib.Error):
                f.close()

            # --- per-address share: a third digest from one address ---
            share = []
            for i in range(2):
                c, code, text = hasher(d, "127.0.0.30", "share%d.iso" % i)
                share.append(c)
                pmtest.check("digest %d of 127.0.0.30 queued (STAT 211)" % (i + 1), code == 211,
                             (code, text))
            third = RawFrom(d.ftp_port, "127.0.0.30", timeout=10)
            third.login()
            third.code("OPTS HASH SHA-512")
            code, text = third.cmd("HASH /share2.iso")
            pmtest.check("third digest from one address: 450 naming the limit",
                         code == 450 and "address" in text and "limit is 2" in text,
                         (code, text))
            pmtest.check("the two accepted ones are still unanswered",
                         all(unanswered(c) for c in share))

            # --- the clients leave: their digests stop ---
            left = hashers + share
            for c in left:
                c.close()
            third.code("QUIT")
            third.close()
            # a new address: the closed ones may still be counted for a moment
            new = RawFrom(d.ftp_port, "127.0.0.40", timeout=15)
            new.login()
            new.code("OPTS HASH SHA-512")
            t0 = time.monotonic()
            code, text = new.cmd("HASH /small.bin")
            t_small = time.monotonic() - t0
            print("# small digest after the clients left: %.3fs (one big digest: %.2fs)"
                  % (t_small, t_big))
            want = hashlib.sha512(SMALL).hexdigest()
            pmtest.check("small digest answered, right value", code == 213 and want in text,
                         (code, text))
            # 18 big digests were asked, two workers: had they kept running,
            # the small one would wait several big digests' time.
            pmtest.check("the small digest did not wait for the abandoned ones "
                         "(%.2fs, a third of one big digest is %.2fs)" % (t_small, t_big / 3),
                         t_small < t_big / 3)
            end = time.monotonic() + 5
            n = 0
            while time.monotonic() < end:
                n = sum(1 for ln in d.log_text().splitlines()
                        if "HASH of /" in ln and "cancelled" in ln and "client left" in ln)
                if n >= len(left):
                    break
                time.sleep(0.1)
            pmtest.check("the log names every cancelled digest (%d of %d)" % (n, len(left)),
                         n == len(left), d.log_text()[-2000:])

            # --- ABOR stops a digest, and the session goes on ---
            new.send("HASH /cal.iso")
            code, text = new.cmd("STAT")
            pmtest.check("a big digest asked (STAT 211)", code == 211, (code, text))
            new.send("ABOR")
            codes = [new.reply()[0], new.reply()[0]]
            pmtest.check_eq("ABOR during HASH: 426 then 226", [426, 226], codes)
            pmtest.check_eq("the session goes on", 200, new.code("NOOP"))
            pmtest.check("the log names the digest ABOR stopped",
                         d.wait_log("HASH of /cal.iso cancelled while running: the client "
                                    "sent ABOR", 5))
            new.code("QUIT")
            new.close()
    finally:
        shutil.rmtree(top, ignore_errors=True)
        os.unlink(auth)
    pmtest.done()


main()
