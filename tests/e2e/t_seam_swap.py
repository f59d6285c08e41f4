"""A file swapped for a symlink after the decision is not followed: the
view decides on the path the index resolved (no symlink on it), and the
file is opened on exactly that path with no symlink followed.  An rsync
session keeps the snapshot its file list came from for as long as it runs,
so the widest window is there: pub/swap/b-victim.txt is replaced by a link
to ../../private/secret.txt (auth_paths = /private/) while the client is
still receiving the file before it; the secret must not arrive.  Once the
index has seen the link, HTTPS decides on the new target (401)."""
import os
import subprocess
import time

import pmtest
import rsynctest
from ftptest import htpasswd
from pmtest import check

SECRET = b"top secret: never for anonymous clients\n"

rsynctest.need_rsync()
auth = htpasswd("alice", "s3cret-pass")
with rsynctest.daemon(sets={"rate_per_ip": "1M", "auth_file": auth,
                            "auth_paths": "/private/"}) as d:
    try:
        os.makedirs(os.path.join(d.root, "private"), exist_ok=True)
        with open(os.path.join(d.root, "private", "secret.txt"), "wb") as f:
            f.write(SECRET)
        swap = os.path.join(d.root, "pub", "swap")
        os.makedirs(swap)
        with open(os.path.join(swap, "a-big.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))  # about 3 s at rate_per_ip 1M
        victim = os.path.join(swap, "b-victim.txt")
        with open(victim, "wb") as f:
            f.write(b"public\n")
        listed = ""
        for _ in range(100):
            rc, listed = rsynctest.run("--list-only", rsynctest.url(d, "mirror/pub/swap/"))
            if "b-victim.txt" in listed and "a-big.bin" in listed:
                break
            time.sleep(0.1)
        check("the index holds both files", "b-victim.txt" in listed, listed)
        dst = os.path.join(d.tmp, "dst")
        os.mkdir(dst)
        p = subprocess.Popen(["rsync", "--contimeout=20", "--timeout=60", "-a",
                              rsynctest.url(d, "mirror/pub/swap/"), dst],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # the file list is sent; a-big.bin is on its way
        tmp_link = os.path.join(swap, ".swap-link")
        os.symlink("../../private/secret.txt", tmp_link)
        os.replace(tmp_link, victim)
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        got = b""
        path = os.path.join(dst, "b-victim.txt")
        if os.path.exists(path):
            with open(path, "rb") as f:
                got = f.read()
        print("# rsync exit %d; b-victim.txt: %r" % (p.returncode, got[:40]))
        check("the secret did not travel under the public name", SECRET not in got,
              out.decode("utf-8", "replace")[-400:])
        check("the file before it arrived whole",
              os.path.getsize(os.path.join(dst, "a-big.bin")) == 3 << 20
              if os.path.exists(os.path.join(dst, "a-big.bin")) else False)
        # once the index has seen the link, the view decides on its target
        code = 0
        for _ in range(100):
            r = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/pub/swap/b-victim.txt")
            code = int(r.stdout or b"0")
            if code == 401:
                break
            time.sleep(0.1)
        check("https: the link, once indexed, needs a login (401)", code == 401, code)
    finally:
        d.cleanup()
pmtest.done()
