"""The tools mirror users run copy the tree from the HTML listings with no
extra options: `wget -m` of a subdirectory (which climbs to the whole
tree through the parent links), `wget -r -np` (that subtree only) and
lftp's `mirror` over HTTPS; each file arrives byte for byte and is fetched
once.  Search engines get `X-Robots-Tag: noindex`, never a robots meta that
stops the crawl."""
import collections
import filecmp
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import time
import pmtest


def tree_files(root, top=""):
    out = []
    for dp, dn, fn in os.walk(os.path.join(root, top)):
        dn[:] = [x for x in dn if not x.startswith(".")]
        for n in fn:
            if not n.startswith("."):
                out.append(os.path.relpath(os.path.join(dp, n), root))
    return sorted(out)


def got_files(out, skip_index=True):
    res = []
    for dp, dn, fn in os.walk(out):
        for n in fn:
            if skip_index and (n == "index.html" or n == "robots.txt"):
                continue
            res.append(os.path.relpath(os.path.join(dp, n), out))
    return sorted(res)


def gets(d, agent):
    with open(d.access_log) as f:
        log = f.read()
    return re.findall(r'"GET ([^ ]*) HTTP[^"]*" \d+ \d+ "[^"]*" "%s' % agent, log)


def byte_equal(d, out, names):
    return [n for n in names
            if os.path.exists(os.path.join(out, n))
            and filecmp.cmp(os.path.join(d.root, n), os.path.join(out, n), shallow=False)]


with pmtest.Daemon() as d:
    sub = os.path.join(d.root, "pub", "deep")
    os.makedirs(sub)
    with open(os.path.join(sub, "odd name & 'q' %.bin"), "wb") as f:
        f.write(os.urandom(70000))
    d.reload()
    for _ in range(200):
        if d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/pub/deep/").stdout == b"200":
            break
        time.sleep(0.1)

    h = d.curl("-D", "-", "-o", "/dev/null", path="/pub/").stdout.decode()
    pmtest.check("listing header X-Robots-Tag: noindex",
                 re.search(r"(?im)^x-robots-tag: noindex\r?$", h) is not None, h)
    page = d.curl(path="/pub/").stdout.decode()
    pmtest.check("no robots meta in the page", 'name="robots"' not in page, page[:400])

    # 1. wget -m, no options but the certificate to trust
    out = tempfile.mkdtemp(prefix="pm-wgetm-")
    p = subprocess.run(["wget", "-m", "-nv", "--ca-certificate", d.cert, "-P", out,
                        d.url("/pub/")], capture_output=True, timeout=600)
    pmtest.check("wget -m exits 0", p.returncode == 0, p.stderr[-800:])
    host = os.path.join(out, "127.0.0.1:%d" % d.https_port)
    want = tree_files(d.root) + ["ls-lR.gz"]
    # wget -m also follows the page's own stylesheet, script and icons
    # (under /.pubmirror/, served from the binary), once each.
    got = [x for x in got_files(host) if not x.startswith(".pubmirror/")]
    pmtest.check_eq("wget -m: the whole tree (it climbs from /pub/)", sorted(want), got)
    same = byte_equal(d, host, [w for w in want if w != "ls-lR.gz"])
    pmtest.check_eq("wget -m: byte for byte", len(want) - 1, len(same))
    with open(os.path.join(host, "ls-lR.gz"), "rb") as f:
        pmtest.check("wget -m: ls-lR.gz is a gzip listing", b"README" in gzip.decompress(f.read()))
    g = gets(d, "Wget")
    dup = [k for k, v in collections.Counter(g).items() if v > 1]
    pmtest.check_eq("wget -m: each URL fetched once", [], dup)
    pmtest.check("wget -m: no sort or format variants", not [u for u in g if "?" in u], g)
    shutil.rmtree(out, ignore_errors=True)

    # 2. wget -r -np: the subtree only
    with open(d.access_log, "w"):
        pass
    out = tempfile.mkdtemp(prefix="pm-wgetr-")
    p = subprocess.run(["wget", "-r", "-np", "-nv", "--ca-certificate", d.cert, "-P", out,
                        d.url("/pub/")], capture_output=True, timeout=600)
    pmtest.check("wget -r -np exits 0", p.returncode == 0, p.stderr[-800:])
    host = os.path.join(out, "127.0.0.1:%d" % d.https_port)
    want = tree_files(d.root, "pub")
    got = got_files(host)
    pmtest.check_eq("wget -r -np: the subtree", want, got)
    pmtest.check_eq("wget -r -np: byte for byte", len(want), len(byte_equal(d, host, want)))
    g = gets(d, "Wget")
    dup = [k for k, v in collections.Counter(g).items() if v > 1]
    pmtest.check_eq("wget -r -np: each URL fetched once", [], dup)
    pmtest.check("wget -r -np: nothing above /pub/",
                 not [u for u in g if not u.startswith("/pub/") and u != "/robots.txt"], g)
    shutil.rmtree(out, ignore_errors=True)

    # 3. lftp mirror over HTTPS
    with open(d.access_log, "w"):
        pass
    out = tempfile.mkdtemp(prefix="pm-lftp-")
    dest = os.path.join(out, "pub")
    script = "set ssl:ca-file %s\nset net:max-retries 1\nmirror %s %s\n" % (
        d.cert, d.url("/pub/"), dest)
    p = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=600)
    pmtest.check("lftp mirror exits 0", p.returncode == 0, p.stderr[-800:])
    want = tree_files(d.root, "pub")
    got = got_files(out, skip_index=False)
    pmtest.check_eq("lftp mirror: the subtree", want, got)
    pmtest.check_eq("lftp mirror: byte for byte", len(want), len(byte_equal(d, out, want)))
    g = [u for u in gets(d, "lftp") if not u.endswith("/")]
    dup = [k for k, v in collections.Counter(g).items() if v > 1]
    pmtest.check_eq("lftp mirror: each file fetched once", [], dup)
    pmtest.check_eq("lftp mirror: every file fetched", len(want), len(set(g)))
    shutil.rmtree(out, ignore_errors=True)
pmtest.done()
