"""FTPS (PROT P) file transfers whose TLS records leave in batches: every
byte arrives, in order, with a slow reader (the server's socket fills and
part of a batch waits), from a REST offset inside a batch, over TLS 1.2 and
1.3, when throttled, and after an ABOR the session goes on; listings (small
writes) too."""
import os
import shutil
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, read_all, wide_pasv  # noqa: E402

# Not a multiple of the 16 KiB record nor of the 256 KiB read-ahead block.
SIZE = 3 * 1024 * 1024 + 12345
NAME = "bulk.bin"


def make_tree():
    tree = tempfile.mkdtemp(prefix="pm-e2e-bulk-")
    os.chmod(tree, 0o755)
    src = os.urandom(SIZE)
    with open(os.path.join(tree, NAME), "wb") as f:
        f.write(src)
    os.chmod(os.path.join(tree, NAME), 0o644)
    return tree, src


def session(d, ctx=None):
    r = Raw(d.ftp_port, timeout=20)
    r.auth_tls(ctx)
    r.login()
    r.code("PBSZ 0")
    r.code("PROT P")
    r.code("TYPE I")
    return r


def tls12_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def open_retr(r, cmd):
    """EPSV, the command, TLS on the data connection; (code, TLS socket)."""
    d = r.data_conn(r.pasv_addr())
    c, _ = r.cmd(cmd)
    if c != 150:
        d.close()
        return c, None
    d = r.ctx.wrap_socket(d, session=r.sock.session)
    d.settimeout(20)
    return c, d


def main():
    tree, src = make_tree()
    try:
        with pmtest.Daemon(tree=tree, sets=wide_pasv()) as d:
            r = session(d)
            c1, data, c2 = r.retr_bytes("RETR /" + NAME, tls=True)
            pmtest.check("TLS 1.3: RETR of %d bytes is byte-exact, 150/226" % SIZE,
                         c1 == 150 and c2 == 226 and data == src,
                         (c1, c2, len(data)))

            # A slow reader: the server fills its socket and waits with
            # encrypted records still buffered; nothing may be lost.
            c, dc = open_retr(r, "RETR /" + NAME)
            got = dc.recv(65536) if dc else b""
            time.sleep(1.5)
            got += read_all(dc) if dc else b""
            if dc:
                dc.close()
            c2, _ = r.reply()
            pmtest.check("slow reader: every byte in order, then 226",
                         c == 150 and got == src and c2 == 226, (c, c2, len(got)))

            # REST inside a read-ahead block and inside a record.
            off = 300001
            pmtest.check_eq("REST 300001", 350, r.code("REST %d" % off))
            c1, data, c2 = r.retr_bytes("RETR /" + NAME, tls=True)
            pmtest.check("REST then RETR sends the rest byte-exact",
                         c1 == 150 and c2 == 226 and data == src[off:], (c1, c2, len(data)))

            # ABOR while records wait in the buffer: 426 then 226, and the
            # session transfers again.
            c, dc = open_retr(r, "RETR /" + NAME)
            part = dc.recv(16384) if dc else b""
            r.send("ABOR")
            codes = [r.reply()[0], r.reply()[0]]
            if dc:
                dc.close()
            pmtest.check("ABOR mid-transfer over PROT P: 426 then 226",
                         c == 150 and part == src[:len(part)] and codes == [426, 226], codes)
            c1, data, c2 = r.retr_bytes("RETR /" + NAME, tls=True)
            pmtest.check("after ABOR the next RETR is byte-exact",
                         c1 == 150 and c2 == 226 and data == src, (c1, c2, len(data)))

            # Listings write small pieces through the same data path.
            c1, data, c2 = r.retr_bytes("NLST /", tls=True)
            pmtest.check("NLST over PROT P", c1 == 150 and c2 == 226 and
                         NAME.encode() in data, (c1, c2, data[:200]))
            r.close()

            r = session(d, tls12_ctx())
            c1, data, c2 = r.retr_bytes("RETR /" + NAME, tls=True)
            pmtest.check("TLS 1.2: RETR byte-exact, 150/226",
                         c1 == 150 and c2 == 226 and data == src, (c1, c2, len(data)))
            pmtest.check_eq("TLS 1.2: REST", 350, r.code("REST %d" % off))
            c1, data, c2 = r.retr_bytes("RETR /" + NAME, tls=True)
            pmtest.check("TLS 1.2: REST then RETR byte-exact",
                         c1 == 150 and c2 == 226 and data == src[off:], (c1, c2, len(data)))
            r.close()

        # Throttled: small credits go out at once (nothing waits in the
        # buffer for the next batch), and the transfer completes.
        sets = wide_pasv()
        sets["rate_per_ip"] = "2M"
        with pmtest.Daemon(tree=tree, sets=sets) as d:
            r = session(d)
            c, dc = open_retr(r, "RETR /" + NAME)
            t0 = time.time()
            first = dc.recv(65536) if dc else b""
            t_first = time.time() - t0
            got = first + (read_all(dc) if dc else b"")
            if dc:
                dc.close()
            c2, _ = r.reply()
            pmtest.check("throttled FTPS: every byte, then 226",
                         c == 150 and got == src and c2 == 226, (c, c2, len(got)))
            pmtest.check("throttled FTPS: the first bytes come within 2 s",
                         len(first) > 0 and t_first < 2.0, t_first)
            r.close()
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    pmtest.done()


main()
