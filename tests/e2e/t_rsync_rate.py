"""rsync:// under rate_per_ip: the sender takes its credit from the shared
limiter in large frames, but the byte rate still holds (a lower bound on
the time, so a slow machine cannot make it fail), and the copy is exact."""
import os
import time

import pmtest
import rsynctest
from pmtest import check

rsynctest.need_rsync()
with rsynctest.daemon(sets={"rate_per_ip": "1M"}) as d:
    try:
        src = os.path.join(d.root, "pub", "rate.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(4 << 20))
        for _ in range(100):
            rc, out = rsynctest.run("--list-only", rsynctest.url(d, "mirror/pub/"))
            if "rate.bin" in out:
                break
            time.sleep(0.1)
        dst = os.path.join(d.tmp, "dst")
        os.mkdir(dst)
        t0 = time.monotonic()
        rc, out = rsynctest.run("-a", rsynctest.url(d, "mirror/pub/rate.bin"), dst)
        took = time.monotonic() - t0
        check("a 4 MiB pull at rate_per_ip 1M is byte-exact", rc == 0 and
              pmtest.file_sha256(src) == pmtest.file_sha256(os.path.join(dst, "rate.bin")), out)
        check("it takes at least 2.5 s (%.1f s)" % took, took >= 2.5, out)
    finally:
        d.cleanup()
pmtest.done()
