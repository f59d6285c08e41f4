"""HASH of a big file runs on the worker pool: with one FTP thread, another
session's NOOP is answered while the digest is still being computed, and
QUIT during a digest ends the session at once."""
# pm-tsan: also run by make tsan (threads share the index, limiter and config)
import hashlib
import os
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw  # noqa: E402

SIZE = 1 << 30  # sparse: no disk used, still 1 GiB to hash


def main():
    tree = tempfile.mkdtemp(prefix="pm-hash-tree-")
    os.chmod(tree, 0o755)
    shutil.copytree(os.path.join(pmtest.TOP, "mirror-root", "pub"), os.path.join(tree, "pub"))
    with open(os.path.join(tree, "big.iso"), "wb") as f:
        f.truncate(SIZE)
    os.chmod(os.path.join(tree, "big.iso"), 0o644)
    try:
        with pmtest.Daemon(tree=tree, sets={"ftp_threads": "1"}) as d:
            a = Raw(d.ftp_port)
            a.login()
            b = Raw(d.ftp_port)
            b.login()
            a.code("OPTS HASH SHA-512")
            a.send("HASH /big.iso")
            pmtest.check_eq("another session is served during the digest", 200,
                            b.code("NOOP"))
            a.sock.setblocking(False)
            try:
                early = a.sock.recv(100, socket.MSG_PEEK)
            except BlockingIOError:
                early = b""
            a.sock.setblocking(True)
            a.sock.settimeout(30)
            pmtest.check("the digest was still running then", early == b"", early)
            c, t = a.reply()
            want = hashlib.sha512()
            zero = bytes(1 << 20)
            for _ in range(SIZE >> 20):
                want.update(zero)
            pmtest.check("digest of the big file",
                         c == 213 and want.hexdigest() in t and (" 0-%d " % (SIZE - 1)) in t, t)
            # the cache answers the same question at once
            pmtest.check_eq("cached digest", 213, a.code("HASH /big.iso"))
            a.code("OPTS HASH MD5")
            a.send("HASH /big.iso")
            a.send("QUIT")
            codes = [a.reply()[0], a.reply()[0]]
            pmtest.check("QUIT during a digest: 221 and closed", 221 in codes, codes)
            b.code("QUIT")
            a.close()
            b.close()
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    pmtest.done()


main()
