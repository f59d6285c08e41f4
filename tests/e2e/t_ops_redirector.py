"""What a redirector (mirrorbits, MirrorBrain) does to a mirror node, and
what it must see: HEAD on every file gives its exact size and time; an FTP
scan (MLSD on every directory, then SIZE and MDTM on files) sees the same
tree with the same sizes and times as HTTPS and the files themselves; the
scan can be repeated many times in a row (passive ports are reused); a
missing file is a plain 404 without a body to speak of; the trace file
(project/trace/<host>) says when the node last synced."""
import calendar
import email.utils
import http.client
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402


def disk_tree(root):
    """{path: (size, mtime)} of every visible file, and the directories."""
    files, dirs = {}, [""]
    for top, dnames, fnames in os.walk(root):
        dnames[:] = sorted(n for n in dnames if not n.startswith("."))
        rel = os.path.relpath(top, root)
        rel = "" if rel == "." else rel
        for n in dnames:
            dirs.append(os.path.join(rel, n))
        for n in fnames:
            if n.startswith("."):
                continue
            st = os.stat(os.path.join(top, n))
            files[os.path.join(rel, n)] = (st.st_size, int(st.st_mtime))
    return files, dirs


def ftp_scan(f, dirs_out=None):
    """Walk the tree with MLSD only, as a scanner does."""
    files, todo = {}, [""]
    while todo:
        d = todo.pop()
        if dirs_out is not None:
            dirs_out.append(d)
        for name, facts in f.mlsd(d or "/", ["type", "size", "modify"]):
            t = facts.get("type")
            p = os.path.join(d, name)
            if t == "dir":
                todo.append(p)
            elif t == "file":
                mt = calendar.timegm(time.strptime(facts["modify"][:14], "%Y%m%d%H%M%S"))
                files[p] = (int(facts["size"]), mt)
    return files


def main():
    with pmtest.Daemon(start=False) as d:
        # The trace file a primary writes at the end of each sync.
        trace_dir = os.path.join(d.root, "project", "trace")
        os.makedirs(trace_dir)
        with open(os.path.join(trace_dir, "primary.example.org"), "w") as f:
            f.write(time.strftime("%a %b %d %H:%M:%S UTC %Y\n", time.gmtime()))
        d.start()
        files, dirs = disk_tree(d.root)
        pmtest.check("tree has files to scan", len(files) >= 10, len(files))

        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        h = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=10)
        bad_size, bad_time, bad_status = [], [], []
        for rel, (size, mtime) in sorted(files.items()):
            url = "/" + "/".join(
                __import__("urllib.parse").parse.quote(c) for c in rel.split("/"))
            h.request("HEAD", url)
            r = h.getresponse()
            r.read()
            if r.status != 200:
                bad_status.append((rel, r.status))
                continue
            if r.getheader("Content-Length") != str(size):
                bad_size.append((rel, size, r.getheader("Content-Length")))
            lm = r.getheader("Last-Modified")
            if lm is None or calendar.timegm(email.utils.parsedate(lm)) != mtime:
                bad_time.append((rel, mtime, lm))
        pmtest.check("HEAD: every file 200", not bad_status, bad_status[:5])
        pmtest.check("HEAD: exact sizes", not bad_size, bad_size[:5])
        pmtest.check("HEAD: Last-Modified equals the file's time", not bad_time, bad_time[:5])

        t0 = time.time()
        h.request("HEAD", "/pub/no-such-file.tar.gz")
        r = h.getresponse()
        r.read()
        took = time.time() - t0
        print("# missing file answered in %.1f ms" % (took * 1000))
        pmtest.check_eq("missing file: 404", 404, r.status)
        pmtest.check("missing file: no redirect", r.getheader("Location") is None)
        h.request("GET", "/pub/no-such-file.tar.gz")
        r = h.getresponse()
        body = r.read()
        pmtest.check("missing file GET: 404 with a short body", r.status == 404 and
                     len(body) < 512, (r.status, len(body)))
        h.request("GET", "/project/trace/primary.example.org")
        r = h.getresponse()
        body = r.read()
        pmtest.check("trace file served", r.status == 200 and b"UTC" in body, body)
        h.close()

        # The FTP scan, over explicit TLS as a careful scanner would.
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "scanner@example.org")
        f.prot_p()
        seen_dirs = []
        scanned = ftp_scan(f, seen_dirs)
        # The generated ls-lR.gz at the root is part of what is served: a
        # scanner sees it over FTP with the size HTTPS gives.
        if "ls-lR.gz" in scanned and "ls-lR.gz" not in files:
            vsize = scanned.pop("ls-lR.gz")[0]
            h = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=10)
            h.request("HEAD", "/ls-lR.gz")
            r = h.getresponse()
            r.read()
            h.close()
            pmtest.check_eq("ls-lR.gz: MLSD size equals HEAD", str(vsize),
                            r.getheader("Content-Length"))
        pmtest.check_eq("MLSD scan sees every directory", sorted(dirs), sorted(seen_dirs))
        pmtest.check_eq("MLSD scan: same files, sizes and times as the disk", files, scanned)
        bad = []
        for rel, (size, mtime) in sorted(files.items()):
            s = f.size(rel)
            m = f.voidcmd("MDTM " + rel).split()[1]
            if s != size or calendar.timegm(time.strptime(m[:14], "%Y%m%d%H%M%S")) != mtime:
                bad.append((rel, size, s, mtime, m))
        pmtest.check("SIZE and MDTM agree with HEAD and MLSD", not bad, bad[:5])
        try:
            f.voidcmd("MDTM pub/no-such-file.tar.gz")
            pmtest.check("MDTM of a missing file refused", False)
        except ftplib.error_perm as e:
            pmtest.check("MDTM of a missing file: 550", str(e).startswith("550"), e)

        # Scanners come back often: many scans in a row, more listings than
        # the passive range has ports (ports in TIME_WAIT must be reusable).
        lo, hi = d.pasv
        rounds = 3 * (hi - lo + 1) // max(1, len(dirs)) + 1
        ok = True
        for i in range(rounds):
            try:
                again = ftp_scan(f)
                again.pop("ls-lR.gz", None) if "ls-lR.gz" not in files else None
                if again != files:
                    ok = False
                    break
            except ftplib.Error as e:
                ok = False
                pmtest.check("repeated scans", False, "round %d: %s" % (i, e))
                break
        pmtest.check("%d scans in a row (%d listings, %d passive ports)" %
                     (rounds, rounds * len(dirs), hi - lo + 1), ok)
        f.quit()
    pmtest.done()


if __name__ == "__main__":
    main()
