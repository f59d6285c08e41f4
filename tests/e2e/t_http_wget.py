"""wget --mirror copies a subtree from the HTML listings byte for byte,
fetching each listing once and never a sort variant."""
import filecmp
import os
import re
import shutil
import subprocess
import tempfile
import pmtest

with pmtest.Daemon() as d:
    sub = os.path.join(d.root, "pub")
    extra = os.path.join(sub, "deep", "er", "est")
    os.makedirs(extra)
    with open(os.path.join(extra, "odd name & 'q' %.bin"), "wb") as f:
        f.write(os.urandom(70000))
    with open(os.path.join(extra, "a:colon.txt"), "wb") as f:
        f.write(b"colon\n")
    d.reload()
    out = tempfile.mkdtemp(prefix="pm-wget-")
    import time
    for _ in range(100):
        if d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/pub/deep/er/est/").stdout == b"200":
            break
        time.sleep(0.1)
    p = subprocess.run(["wget", "--mirror", "--no-parent", "-nH", "-q",
                        "--restrict-file-names=nocontrol", "--ca-certificate", d.cert,
                        "-P", out, d.url("/pub/")], capture_output=True, timeout=300)
    pmtest.check("wget --mirror exits 0", p.returncode == 0, p.stderr[-500:])
    want, got = [], []
    for dp, dn, fn in os.walk(sub):
        for n in fn:
            if not n.startswith("."):
                want.append(os.path.relpath(os.path.join(dp, n), d.root))
    for dp, dn, fn in os.walk(os.path.join(out, "pub")):
        for n in fn:
            if n != "index.html":
                got.append(os.path.relpath(os.path.join(dp, n), out))
    pmtest.check_eq("same file set", sorted(want), sorted(got))
    same = [w for w in want if os.path.exists(os.path.join(out, w))
            and filecmp.cmp(os.path.join(d.root, w), os.path.join(out, w), shallow=False)]
    pmtest.check_eq("byte for byte", len(want), len(same))
    d.settle(d.access_log)
    with open(d.access_log) as f:
        log = f.read()
    listings = re.findall(r'"GET (/pub/[^ ]*/) HTTP[^"]*" \d+ \d+ "[^"]*" "Wget', log)
    pmtest.check("each listing fetched once", len(listings) == len(set(listings)) and len(listings) >= 5,
                 listings)
    pmtest.check("no sort or format variants fetched", "?C=" not in log and "O=D" not in log
                 and "format=json" not in log)
    shutil.rmtree(out, ignore_errors=True)
pmtest.done()
