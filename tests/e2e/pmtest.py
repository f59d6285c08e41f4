"""pmtest - the end-to-end harness: start the real pubmirrord on loopback
ports picked free, with a throwaway config, certificate and tree; report
results as "ok - ..." / "not ok - ..." lines that tests/run.sh counts.

Usage in a test file (tests/e2e/t_*.py):

    import pmtest
    with pmtest.Daemon() as d:          # copies mirror-root/ to a temp tree
        pmtest.check("greeting", d.ftp_port > 0)
    pmtest.done()
"""
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("PM_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("PUBMIRRORD") or os.path.join(TOP, "build", "pubmirrord")
_failed = 0


def check(what, cond, detail=""):
    """Report one result; returns cond."""
    global _failed
    if cond:
        print("ok - %s" % what, flush=True)
    else:
        _failed += 1
        print("not ok - %s%s" % (what, (": " + str(detail)) if detail != "" else ""),
              flush=True)
    return cond


def check_eq(what, expected, got):
    return check(what, expected == got, "expected %r, got %r" % (expected, got))


def done():
    sys.exit(1 if _failed else 0)


_given = set()


def file_sha256(path, h=None):
    """sha256 hex digest of a file's bytes (fed into h when given)."""
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


class Fetch:
    """What a download thread saw: bytes, their sha256, error, done."""

    def __init__(self):
        self.bytes = 0
        self.sha = hashlib.sha256()
        self.error = None
        self.done = False

    def feed(self, b):
        self.sha.update(b)
        self.bytes += len(b)

    def curl(self, d, path, max_time, chunk=65536):
        """Download d's path over HTTPS with curl, feeding what arrives;
        sets error on failure and done at the end (a thread's target)."""
        try:
            p = subprocess.Popen(["curl", "-sS", "--cacert", d.cert, "--max-time",
                                  str(max_time), d.url(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            while True:
                b = p.stdout.read(chunk)
                if not b:
                    break
                self.feed(b)
            if p.wait() != 0:
                self.error = "curl exited with %d" % p.returncode
        except Exception as e:
            self.error = repr(e)
        self.done = True


def free_port(host="127.0.0.1"):
    """A port free now, never one this process was given before (the
    kernel may hand the same ephemeral port out twice in a row)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((host, 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _given:
            _given.add(p)
            return p
    raise RuntimeError("no free port")


def free_range(n=20):
    """A range of n ports that are free now, for pasv_ports."""
    for _ in range(200):
        lo = random.randint(20000, 60000 - n)
        ok = True
        for p in range(lo, lo + n):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return lo, lo + n - 1
    raise RuntimeError("no free port range")


def wait_port(port, host="127.0.0.1", timeout=15.0, proc=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.settimeout(0.5)
            s.connect((host, port))
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False


class Daemon:
    """A pubmirrord on free loopback ports.

    sets: extra KEY=VALUE overrides (dict); tree: a directory to serve
    (default: a copy of mirror-root/); ipv6: also listen on [::1].
    Attributes: ftp_port, ftps_port, https_port, http_port, root, state,
    cert (PEM path of the generated certificate), log (path), pid.
    """

    def __init__(self, sets=None, tree=None, ipv6=False, http=False,
                 start=True, env=None):
        self.tmp = tempfile.mkdtemp(prefix="pm-e2e-")
        # When the tests run as root the daemon drops to an unprivileged
        # user; it must still read its config on SIGHUP.
        os.chmod(self.tmp, 0o755)
        if tree is None:
            tree = os.path.join(self.tmp, "root")
            shutil.copytree(os.path.join(TOP, "mirror-root"), tree, symlinks=True)
        self.root = tree
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state, 0o700)
        self.cert = os.path.join(self.state, "cert.pem")
        self.key = os.path.join(self.state, "key.pem")
        self.log = os.path.join(self.tmp, "error.log")
        self.access_log = os.path.join(self.tmp, "access.log")
        self.xfer_log = os.path.join(self.tmp, "xfer.log")
        self.ftp_port = free_port()
        self.ftps_port = free_port()
        self.https_port = free_port()
        self.http_port = free_port() if http else 0
        lo, hi = free_range()
        self.pasv = (lo, hi)
        self.ipv6 = ipv6

        def addrs(p):
            a = "127.0.0.1:%d" % p
            if ipv6:
                a += ",[::1]:%d" % p
            return a
        self.sets = {
            "root": self.root,
            "state_dir": self.state,
            "ftp_listen": addrs(self.ftp_port),
            "ftps_listen": addrs(self.ftps_port),
            "https_listen": addrs(self.https_port),
            "http_listen": addrs(self.http_port) if http else "off",
            "pasv_ports": "%d-%d" % (lo, hi),
            "access_log": self.access_log,
            "xfer_log": self.xfer_log,
        }
        if sets:
            self.sets.update(sets)
        self.conf = os.path.join(self.tmp, "pubmirror.conf")
        self.write_conf()
        self.env = env
        self.proc = None
        if start:
            self.start()

    def write_conf(self, extra=None):
        s = dict(self.sets)
        if extra:
            s.update(extra)
        with open(self.conf, "w") as f:
            f.write("# throwaway config of an end-to-end test\n")
            for k, v in s.items():
                f.write("%s = %s\n" % (k, v))
        os.chmod(self.conf, 0o644)

    def argv(self):
        return [BINARY, "-f", "-c", self.conf]

    def start(self):
        self.errf = open(self.log, "ab")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.argv(), stdout=self.errf,
                                     stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        ports = [p for p in (self.ftp_port, self.https_port) if p]
        if self.sets.get("https_listen") == "off":
            ports = [self.ftp_port]
        for p in ports:
            if not wait_port(p, proc=self.proc):
                raise RuntimeError("pubmirrord did not start; log:\n" + self.log_text())
        return self

    def reload(self):
        os.kill(self.pid, signal.SIGHUP)

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def settle(self, path, quiet=0.3, timeout=5.0):
        """Wait until path has not grown for quiet seconds (at most
        timeout): HTTP lines are written when a request ends, which can be
        a moment after the client has its last byte."""
        end = time.time() + timeout
        last, since = -1, time.time()
        while time.time() < end:
            try:
                n = os.path.getsize(path)
            except OSError:
                n = -1
            if n != last:
                last, since = n, time.time()
            elif time.time() - since >= quiet:
                return
            time.sleep(0.05)

    def wait_log(self, needle, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return False

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stop our daemon by its PID; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.errf.close()
        return rc

    def url(self, path="/"):
        return "https://127.0.0.1:%d%s" % (self.https_port, path)

    def curl(self, *args, path=None):
        """Run curl with the generated certificate pinned; returns
        CompletedProcess (bytes)."""
        argv = ["curl", "-sS", "--cacert", self.cert, "--max-time", "30"]
        argv += list(args)
        if path is not None:
            argv.append(self.url(path))
        return subprocess.run(argv, capture_output=True, timeout=60)

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "WARNING: ThreadSanitizer", "runtime error:")

    def cleanup(self):
        self.stop()
        # On sanitizer builds a report in the daemon's log is a failure of
        # whichever test ran it.
        text = self.log_text()
        for mark in self.SANITIZER_MARKS:
            if mark in text:
                i = text.index(mark)
                check("daemon log has no sanitizer report", False, text[i:i + 1500])
                break
        if os.environ.get("PM_KEEP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stdout.write("# daemon log:\n" + "".join(
                "# " + l + "\n" for l in self.log_text().splitlines()[-40:]))
        self.cleanup()
        return False
