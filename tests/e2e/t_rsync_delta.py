"""rsync:// delta transfer with the real client: after 1 MiB changes
inside a 100 MiB file, a pull sends only block matches and the changed
literal data (well under 5 MiB, by --stats), also with -z; --partial
keeps what arrived."""
import os
import time

import pmtest
import rsynctest
from pmtest import check

rsynctest.need_rsync()
with rsynctest.daemon() as d:
    try:
        big = os.path.join(d.root, "pub", "big.bin")
        with open(big, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1 << 20))
        dst = os.path.join(d.tmp, "dst")
        os.mkdir(dst)
        # the index notices the new file within a second or two
        for _ in range(100):
            rc, out = rsynctest.run("--list-only", rsynctest.url(d, "mirror/pub/"))
            if "big.bin" in out:
                break
            time.sleep(0.1)
        rc, out = rsynctest.run("-a", "--partial", rsynctest.url(d, "mirror/pub/big.bin"), dst)
        check("first pull of the 100 MiB file", rc == 0 and
              pmtest.file_sha256(big) == pmtest.file_sha256(os.path.join(dst, "big.bin")), out)
        with open(big, "r+b") as f:
            f.seek(37 * (1 << 20) + 12345)
            f.write(os.urandom(1 << 20))
        st = os.stat(big)
        os.utime(big, (st.st_atime, st.st_mtime + 10))
        time.sleep(1.5)
        rc, out = rsynctest.run("-a", "--stats", rsynctest.url(d, "mirror/pub/big.bin"), dst)
        lit = rsynctest.stat_value(out, "Literal data")
        matched = rsynctest.stat_value(out, "Matched data")
        check("delta pull is byte-exact", rc == 0 and
              pmtest.file_sha256(big) == pmtest.file_sha256(os.path.join(dst, "big.bin")), out)
        check("delta pull sends well under 5 MiB of literal data (%d)" % lit,
              0 < lit < 5 * (1 << 20), out)
        check("the rest is matched blocks (%d)" % matched, matched > 90 * (1 << 20), out)
        sent = rsynctest.stat_value(out, "Total bytes received")
        check("bytes on the wire are well under 5 MiB (%d)" % sent, 0 < sent < 5 * (1 << 20))

        with open(big, "r+b") as f:
            f.seek(80 * (1 << 20))
            f.write(b"compressible " * 80000)
        os.utime(big, (st.st_atime, st.st_mtime + 20))
        time.sleep(1.5)
        rc, out = rsynctest.run("-az", "--stats", rsynctest.url(d, "mirror/pub/big.bin"), dst)
        sent = rsynctest.stat_value(out, "Total bytes received")
        check("-z delta pull is byte-exact", rc == 0 and
              pmtest.file_sha256(big) == pmtest.file_sha256(os.path.join(dst, "big.bin")), out)
        check("-z compresses the changed data (%d bytes on the wire)" % sent,
              0 < sent < 500000, out)
    finally:
        d.cleanup()
pmtest.done()
