"""hostile - shared pieces of the hostile-client suite (t_hostile_*.py).

A hostile test starts one daemon with a large file in its tree, lets two
well-behaved clients download that file (one over explicit FTPS with
Python's ftplib, one over HTTPS with curl) while the attacks run from other
loopback addresses (127.0.0.2 and up, so that per-address limits of the
attackers never touch the good clients), then checks that both downloads
finished byte-exact, that the daemon still serves, that its memory came
back near where it started and that nothing under the root changed.
"""
import ftplib
import hashlib
import os
import socket
import ssl
import subprocess
import threading
import time

import pmtest
from pmtest import check, check_eq

# the daemon under test is a sanitizer build (make asan / make tsan)
SANITIZED = os.environ.get("PM_BUILD", "build") != "build"
BIG = "pub/big.bin"
BIG_SIZE = 200 * 1024 * 1024


def make_tree_file(root, rel=BIG, size=BIG_SIZE):
    """A sparse file of size bytes with random blocks every 8 MiB (so that
    a transfer which skips or repeats a block is seen); returns its sha256."""
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, 8 * 1024 * 1024):
            f.seek(off)
            f.write(os.urandom(4096))
    os.chmod(path, 0o644)
    return pmtest.file_sha256(path)


def tree_digest(root):
    """One digest of every name, type, mode, size and content under root
    (symlinks by their target, never followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(("%s\0%o\0%d\0" % (os.path.relpath(p, root), st.st_mode,
                                        st.st_size)).encode("utf-8", "surrogateescape"))
            if os.path.islink(p):
                h.update(os.readlink(p).encode("utf-8", "surrogateescape"))
            elif os.path.isfile(p):
                pmtest.file_sha256(p, h)
    return h.hexdigest()


def start_daemon(sets=None, setup=None, **kw):
    """A Daemon with BIG in its tree; setup(root) may add more before the
    start.  Returns (daemon, sha256 of BIG).  pmtest.free_port may hand out
    one port twice (each probe socket is closed before the next): such a
    start is retried with fresh ports."""
    for attempt in range(3):
        d = pmtest.Daemon(sets=sets, start=False, **kw)
        digest = make_tree_file(d.root)
        if setup is not None:
            setup(d.root)
        try:
            d.start()
            # ports answer once bound, before the sandbox is entered
            d.wait_log("ready: root", timeout=30)
            return d, digest
        except RuntimeError as e:
            d.cleanup()
            if "is also in" not in str(e) or attempt == 2:
                raise
    raise RuntimeError("unreachable")


def ssl_ctx(d):
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False
    return ctx


class GoodDownloads:
    """Two well-behaved downloads of BIG from 127.0.0.1, FTPS and HTTPS.
    They read slowly until release() so that they overlap the attacks, then
    at full speed; wait() returns {"ftps": sha256 or error, "https": ...}."""

    SLOW_CHUNK = 64 * 1024
    SLOW_RATE = 3 * 1024 * 1024  # bytes/s of each download until release()

    def __init__(self, d, rel=BIG):
        self.d = d
        self.rel = rel
        self.fast = threading.Event()
        self.result = {}
        self.progress = {"ftps": 0, "https": 0}
        self.threads = [threading.Thread(target=self._ftps, daemon=True),
                        threading.Thread(target=self._https, daemon=True)]
        for t in self.threads:
            t.start()

    def _pace(self, which, n):
        self.progress[which] += n
        if not self.fast.is_set():
            time.sleep(n / self.SLOW_RATE)

    def _ftps(self):
        h = hashlib.sha256()
        try:
            f = ftplib.FTP_TLS(context=ssl_ctx(self.d), timeout=60)
            f.connect("127.0.0.1", self.d.ftp_port)
            f.auth()
            f.login()
            f.prot_p()
            f.voidcmd("TYPE I")
            # ftplib.retrbinary by hand: the data must be all there and the
            # reply 226; a failing TLS close_notify exchange on the data
            # connection is reported separately (ftps_unwrap).
            ds = f.transfercmd("RETR /" + self.rel)
            while True:
                b = ds.recv(self.SLOW_CHUNK)
                if not b:
                    break
                h.update(b)
                self._pace("ftps", len(b))
            try:
                ds.unwrap()
                self.result["ftps_unwrap"] = "ok"
            except (OSError, ssl.SSLError) as e:
                self.result["ftps_unwrap"] = repr(e)
            ds.close()
            resp = f.voidresp()
            f.quit()
            self.result["ftps"] = h.hexdigest() if resp.startswith("226") else resp
        except Exception as e:  # reported by the test as a mismatch
            self.result["ftps"] = "error: %r" % (e,)

    def _https(self):
        h = hashlib.sha256()
        try:
            p = subprocess.Popen(["curl", "-sS", "--cacert", self.d.cert, "--max-time", "170",
                                  self.d.url("/" + self.rel)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            while True:
                b = p.stdout.read(self.SLOW_CHUNK)
                if not b:
                    break
                h.update(b)
                self._pace("https", len(b))
            err = p.stderr.read()
            rc = p.wait()
            self.result["https"] = h.hexdigest() if rc == 0 else "error: curl %d %r" % (rc, err)
        except Exception as e:
            self.result["https"] = "error: %r" % (e,)

    def started(self, timeout=20.0):
        """True once both downloads have received data."""
        end = time.time() + timeout
        while time.time() < end:
            if self.progress["ftps"] > 0 and self.progress["https"] > 0:
                return True
            if len(self.result) == 2:
                return False
            time.sleep(0.05)
        return False

    def running(self):
        return all(t.is_alive() for t in self.threads)

    def wait(self, timeout=150.0):
        self.fast.set()
        end = time.time() + timeout
        for t in self.threads:
            t.join(max(0.1, end - time.time()))
        return dict(self.result)


def conn(d, port=None, src="127.0.0.2", timeout=10.0):
    """A TCP connection to the daemon from the loopback address src."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port if port is not None else d.ftp_port))
    return s


class Ctl:
    """A raw FTP control connection (plain, or TLS after starttls())."""

    def __init__(self, d, src="127.0.0.2", port=None, timeout=10.0, sock=None):
        self.d = d
        self.s = sock if sock is not None else conn(d, port, src, timeout)
        self.buf = b""

    def starttls(self):
        self.s = ssl_ctx(self.d).wrap_socket(self.s)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise EOFError("connection closed")
            self.buf += b
        l, self.buf = self.buf.split(b"\n", 1)
        return l + b"\n"

    def reply(self):
        """(code, [lines]) of one complete reply; raises EOFError."""
        first = self.line()
        lines = [first]
        code = first[:3]
        if first[3:4] == b"-":
            while True:
                l = self.line()
                lines.append(l)
                if l[:3] == code and l[3:4] == b" ":
                    break
        return int(code), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def login(self, tls=False):
        if tls:
            c, _ = self.cmd("AUTH TLS")
            if c != 234:
                raise RuntimeError("AUTH TLS: %d" % c)
            self.starttls()
        self.cmd("USER anonymous")
        return self.cmd("PASS guest@example.org")

    def closed(self, timeout=10.0):
        """True when the peer closes (EOF or reset) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def still_serving(d, what, tls=False):
    """One small FTP and one HTTPS request answer correctly."""
    c = Ctl(d, src="127.0.0.9")
    code, _ = c.reply()
    ok = pmtest.check_eq(what + ": FTP greets 220", 220, code)
    code, _ = c.login(tls=tls)
    ok &= pmtest.check_eq(what + ": FTP anonymous login 230", 230, code)
    c.cmd("QUIT")
    c.close()
    r = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/")
    ok &= pmtest.check_eq(what + ": HTTPS / answers 200", b"200", r.stdout)
    return ok


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_task(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finish(d, good, digest, tree_before, rss_start, slack_kib=20 * 1024, tls=False):
    """The common end of a hostile test: downloads byte-exact, still
    serving, memory back, tree unchanged."""
    res = good.wait()
    pmtest.check_eq("FTPS download byte-exact (sha256) during the attacks", digest,
                    res.get("ftps"))
    pmtest.check_eq("HTTPS download byte-exact (sha256) during the attacks", digest,
                    res.get("https"))
    if res.get("ftps_unwrap") != "ok":
        print("# FTPS data connection TLS shutdown: %s" % res.get("ftps_unwrap"))
    still_serving(d, "after the attacks", tls=tls)
    time.sleep(0.5)
    rss = d.rss_kib()
    if SANITIZED:
        # ASan keeps freed memory in quarantine and TSan keeps shadow
        # state: RSS says little there; leaks are judged at exit instead.
        slack_kib = 1024 * 1024
    pmtest.check("VmRSS back near the start (%d KiB, started at %d KiB)" % (rss, rss_start),
                 rss < rss_start + slack_kib)
    pmtest.check_eq("nothing under the root changed", tree_before, tree_digest(d.root))
    pmtest.check("daemon still running", d.proc.poll() is None)
    stopped_clean(d)


def stopped_clean(d):
    """Stop the daemon (SIGTERM): exit status 0 and no sanitizer report
    (in an ASan build a leak makes the exit status non-zero)."""
    rc = d.stop()
    pmtest.check_eq("daemon exits 0 on SIGTERM", 0, rc)
    log = d.log_text()
    reports = [m for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                           "WARNING: ThreadSanitizer", "runtime error:")
               if m in log]
    pmtest.check_eq("no sanitizer report in the daemon's output", [], reports)
    if reports:
        i = min(log.find(m) for m in reports)
        print("".join("# " + l + "\n" for l in log[i:i + 4000].splitlines()))


def https_raw(d, request, src="127.0.0.2", timeout=15.0):
    """Send raw bytes on a TLS connection to the HTTPS port; returns the
    whole answer (bytes) up to EOF or timeout."""
    s = ssl_ctx(d).wrap_socket(conn(d, d.https_port, src, timeout))
    try:
        if isinstance(request, str):
            request = request.encode()
        try:
            s.sendall(request)
        except (OSError, ssl.SSLError):
            pass  # the server may answer and close before reading it all
        out = b""
        while len(out) < 4 * 1024 * 1024:
            try:
                b = s.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except (OSError, ssl.SSLError):
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def https_status(d, path, method="GET", headers="", src="127.0.0.2"):
    """Status code of one raw request for path (sent as is), and the body."""
    a = https_raw(d, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n"
                  % (method, path, headers), src=src)
    head, _, body = a.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), body
    except (IndexError, ValueError):
        return None, a
