"""Atomic tree updates, the two ways mirror operators do them.

1. The root is a symlink swapped to a new snapshot directory
   (`ln -s new tmp && mv -T tmp root`): listings polled over HTTPS (JSON)
   and FTP (MLSD) during the swap are each exactly the old tree or exactly
   the new one, never a mix, and move to the new one within seconds;
   downloads started before the swap (HTTPS and FTP) finish with the old
   bytes; new downloads get the new ones.
2. rsync in place, two stages with --delay-updates (new files first, then
   the rest with --delete): no half-written or temporary file is ever
   listed, every listed size is the old or the new one, a download started
   before finishes with the old bytes, and the tree ends equal to the
   source.  Needs rsync (Debian package rsync).
"""
import hashlib
import http.client
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

BIG = 4 << 20


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_tree(top, tag, big):
    write(os.path.join(top, "pub", "data.bin"), big)
    write(os.path.join(top, "pub", "README"), b"tree " + tag + b"\n")
    write(os.path.join(top, "pub", "only-" + tag.decode() + ".txt"), tag * 10)
    write(os.path.join(top, "pub", "sub", "x.txt"), tag * 3)


def tree_view(top, rel="pub"):
    """{name: size} of one directory as the server should list it."""
    out = {}
    for n in os.listdir(os.path.join(top, rel)):
        if n.startswith("."):
            continue
        p = os.path.join(top, rel, n)
        out[n] = None if os.path.isdir(p) else os.path.getsize(p)
    return out


class Lister:
    """Persistent HTTPS and FTP connections for fast listing polls."""

    def __init__(self, d):
        self.ctx = ssl.create_default_context(cafile=d.cert)
        self.ctx.check_hostname = False
        self.d = d
        self.h = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=self.ctx,
                                             timeout=10)
        self.f = ftplib.FTP(timeout=10)
        self.f.connect("127.0.0.1", d.ftp_port)
        self.f.login("anonymous", "atomic@example.org")
        self.last_ftp = 0.0

    def https(self, rel="pub"):
        self.h.request("GET", "/%s/?format=json" % rel)
        r = self.h.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("listing status %d" % r.status)
        return {e["name"]: (e.get("size") if e.get("type") == "file" else None)
                for e in json.loads(body)}

    def ftp(self, rel="pub"):
        # At most 5 listings a second: each takes a passive port, which
        # then sits in TIME_WAIT for a minute.
        wait = self.last_ftp + 0.2 - time.time()
        if wait > 0:
            time.sleep(wait)
        self.last_ftp = time.time()
        out = {}
        for name, facts in self.f.mlsd(rel, ["type", "size"]):
            if facts.get("type") in ("cdir", "pdir"):
                continue
            out[name] = int(facts["size"]) if facts.get("type") == "file" else None
        return out

    def close(self):
        self.h.close()
        try:
            self.f.quit()
        except Exception:
            pass


class Download(threading.Thread):
    def __init__(self, d, rel, proto):
        super().__init__(daemon=True)
        self.d, self.rel, self.proto = d, rel, proto
        self.data, self.error = b"", None
        self.started = threading.Event()

    def run(self):
        try:
            if self.proto == "https":
                ctx = ssl.create_default_context(cafile=self.d.cert)
                ctx.check_hostname = False
                h = http.client.HTTPSConnection("127.0.0.1", self.d.https_port, context=ctx,
                                                timeout=30)
                h.request("GET", "/" + self.rel)
                r = h.getresponse()
                buf = io.BytesIO()
                while True:
                    b = r.read(65536)
                    if not b:
                        break
                    buf.write(b)
                    self.started.set()
                self.data = buf.getvalue()
            else:
                f = ftplib.FTP(timeout=30)
                f.connect("127.0.0.1", self.d.ftp_port)
                f.login("anonymous", "atomic@example.org")
                buf = io.BytesIO()

                def take(b):
                    buf.write(b)
                    self.started.set()
                f.retrbinary("RETR " + self.rel, take, blocksize=65536)
                f.quit()
                self.data = buf.getvalue()
        except Exception as e:
            self.error = repr(e)
        self.started.set()


def sets(rate):
    # Many listings in a row: a wide passive range, so this test is about
    # atomicity only (passive-port reuse is t_ops_redirector's business).
    lo, hi = pmtest.free_range(500)
    return {"rate_per_ip": rate, "pasv_ports": "%d-%d" % (lo, hi)}


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def test_symlink_swap():
    tmp = pmtest.tempfile.mkdtemp(prefix="pm-atomic-")
    os.chmod(tmp, 0o755)  # as /srv: the service user may look up the root's name
    old_big, new_big = os.urandom(BIG), os.urandom(BIG)
    make_tree(os.path.join(tmp, "snap-1"), b"old", old_big)
    make_tree(os.path.join(tmp, "snap-2"), b"new", new_big)
    root = os.path.join(tmp, "current")
    os.symlink("snap-1", root)
    old_view = tree_view(os.path.join(tmp, "snap-1"))
    new_view = tree_view(os.path.join(tmp, "snap-2"))
    d = pmtest.Daemon(tree=root, sets=sets("2M"))
    try:
        ls = Lister(d)
        pmtest.check_eq("symlink root: HTTPS lists the old tree", old_view, ls.https())
        pmtest.check_eq("symlink root: FTP lists the old tree", old_view, ls.ftp())
        dl = [Download(d, "pub/data.bin", "https"), Download(d, "pub/data.bin", "ftp")]
        for t in dl:
            t.start()
        for t in dl:
            t.started.wait(10)

        # The swap, as operators do it.
        os.symlink("snap-2", os.path.join(tmp, "current.tmp"))
        subprocess.run(["mv", "-T", os.path.join(tmp, "current.tmp"), root], check=True)
        seen, bad = {"old": 0, "new": 0}, []
        end = time.time() + 8
        switched_https = switched_ftp = False
        while time.time() < end and not (switched_https and switched_ftp):
            for name, fn in (("https", ls.https), ("ftp", ls.ftp)):
                v = fn()
                if v == old_view:
                    seen["old"] += 1
                    if (name == "https" and switched_https) or (name == "ftp" and switched_ftp):
                        bad.append((name, "went back to the old tree"))
                elif v == new_view:
                    seen["new"] += 1
                    if name == "https":
                        switched_https = True
                    else:
                        switched_ftp = True
                else:
                    bad.append((name, sorted(v.items())))
        pmtest.check("every listing during the swap is the old or the new tree", not bad,
                     bad[:3])
        pmtest.check("HTTPS listing moved to the new tree", switched_https, seen)
        pmtest.check("FTP listing moved to the new tree", switched_ftp, seen)
        for t in dl:
            t.join(30)
            pmtest.check("%s download across the swap finished" % t.proto, t.error is None,
                         t.error)
            pmtest.check_eq("%s download across the swap has the old bytes" % t.proto,
                            sha(old_big), sha(t.data))
        r = d.curl(path="/pub/data.bin")
        pmtest.check_eq("new HTTPS download has the new bytes", sha(new_big), sha(r.stdout))
        f = ftplib.FTP(timeout=10)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "atomic@example.org")
        buf = io.BytesIO()
        f.retrbinary("RETR pub/only-new.txt", buf.write)
        f.quit()
        pmtest.check_eq("new FTP download from the new tree", b"new" * 10, buf.getvalue())
        ls.close()
    finally:
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_rsync_two_stage():
    have = shutil.which("rsync") is not None
    pmtest.check("rsync is installed (apt-get install rsync)", have)
    if not have:
        return
    tmp = pmtest.tempfile.mkdtemp(prefix="pm-rsync-")
    os.chmod(tmp, 0o755)
    src, root = os.path.join(tmp, "upstream"), os.path.join(tmp, "mirror")
    old_big, new_big = os.urandom(BIG), os.urandom(BIG)
    make_tree(root, b"old", old_big)
    make_tree(src, b"new", new_big)
    # The mirror's copy is older: rsync's quick check (size and time) must
    # see that data.bin changed although its size did not.
    old = time.time() - 86400
    for top, _, names in os.walk(root):
        for n in names:
            os.utime(os.path.join(top, n), (old, old))
    # More new data so the sync lasts while listings are polled.
    for i in range(8):
        write(os.path.join(src, "pub", "pool-%d.bin" % i), os.urandom(1 << 20))
    old_view = tree_view(root)
    new_view = tree_view(src)
    d = pmtest.Daemon(tree=root, sets=sets("2M"))
    try:
        ls = Lister(d)
        pmtest.check_eq("rsync: starts with the old tree", old_view, ls.https())
        dl = Download(d, "pub/data.bin", "https")
        dl.start()
        dl.started.wait(10)
        # Stage 1: new and changed files, nothing deleted, renamed into
        # place at the end (--delay-updates).  Stage 2: --delete.
        stage1 = subprocess.Popen(["rsync", "-a", "--delay-updates", "--bwlimit=4000",
                                   src + "/", root + "/"])
        allowed = {}
        for v in (old_view, new_view):
            for k, s in v.items():
                allowed.setdefault(k, set()).add(s)
        bad, polls = [], 0
        t_end = time.time() + 60
        while stage1.poll() is None and time.time() < t_end:
            for name, fn in (("https", ls.https), ("ftp", ls.ftp)):
                v = fn()
                polls += 1
                for k, s in v.items():
                    if k not in allowed or s not in allowed[k]:
                        bad.append((name, k, s))
        pmtest.check_eq("rsync stage 1 succeeded", 0, stage1.wait(60))
        pmtest.check("listings polled during stage 1", polls >= 4, polls)
        pmtest.check("no temporary or half-written file ever listed", not bad, bad[:5])
        r = subprocess.run(["rsync", "-a", "--delay-updates", "--delete", src + "/",
                            root + "/"], timeout=60)
        pmtest.check_eq("rsync stage 2 succeeded", 0, r.returncode)
        dl.join(30)
        pmtest.check("download during rsync finished", dl.error is None, dl.error)
        pmtest.check_eq("download during rsync has the old bytes", sha(old_big), sha(dl.data))
        end = time.time() + 5
        https_v = ftp_v = None
        while time.time() < end:
            https_v, ftp_v = ls.https(), ls.ftp()
            if https_v == new_view and ftp_v == new_view:
                break
            time.sleep(0.1)
        pmtest.check_eq("after stage 2 HTTPS lists the source tree", new_view, https_v)
        pmtest.check_eq("after stage 2 FTP lists the source tree", new_view, ftp_v)
        r = d.curl(path="/pub/data.bin")
        pmtest.check_eq("new download has the new bytes", sha(new_big), sha(r.stdout))
        ls.close()
    finally:
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    test_symlink_swap()
    test_rsync_two_stage()
    pmtest.done()


if __name__ == "__main__":
    main()
