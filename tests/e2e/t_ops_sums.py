"""Checksums: the HTTPS listing shows the SHA-256 that a directory's
SHA256SUMS states for a file; files carry a Repr-Digest (RFC 9530) from
the background hasher (also on 206), equal to FTP's HASH; never for files
over hash_max_size; never stale after a file changes."""
import base64
import hashlib
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

DIR = "pub/hello"
FILE = DIR + "/hello-2.12.tar.gz"


def repr_digest(d, path, *extra):
    r = d.curl("-sS", "-D", "-", "-o", "/dev/null", *extra, path="/" + path)
    status = r.stdout.split(b"\r\n", 1)[0]
    for line in r.stdout.decode("latin-1").split("\r\n"):
        if line.lower().startswith("repr-digest:"):
            return status, line.split(":", 1)[1].strip()
    return status, None


def want_rd(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


def wait_rd(d, path, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        _, v = repr_digest(d, path)
        if v:
            return v
        time.sleep(0.2)
    return None


def main():
    with pmtest.Daemon(sets={"hash_max_size": "100K"}) as d:
        sums = {}
        with open(os.path.join(d.root, DIR, "SHA256SUMS")) as f:
            for line in f:
                h, _, n = line.strip().partition("  ")
                sums[n.lstrip("*")] = h
        pmtest.check("the sample tree has a SHA256SUMS", "hello-2.12.tar.gz" in sums, sums)
        r = d.curl(path="/%s/" % DIR)
        page = r.stdout.decode("utf-8", "replace")
        pmtest.check("HTML listing shows the stated SHA-256",
                     sums.get("hello-2.12.tar.gz", "-") in page, page[:300])

        with open(os.path.join(d.root, FILE), "rb") as f:
            data = f.read()
        v = wait_rd(d, FILE)
        pmtest.check_eq("Repr-Digest of a file", want_rd(data), v)
        st, v206 = repr_digest(d, FILE, "-r", "0-99")
        pmtest.check("Range request: 206", b" 206" in st, st)
        pmtest.check_eq("Repr-Digest on 206 is the whole file's", want_rd(data), v206)

        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "sums@example.org")
        f.prot_p()
        try:
            f.sendcmd("OPTS HASH SHA-256")
        except ftplib.error_perm:
            pass
        rep = f.sendcmd("HASH " + FILE)
        pmtest.check("FTP HASH equals Repr-Digest",
                     hashlib.sha256(data).hexdigest() in rep, rep)
        f.quit()

        big = "pub/misc/speedtest-256K.bin"
        time.sleep(1.0)
        _, vb = repr_digest(d, big)
        pmtest.check("no Repr-Digest over hash_max_size", vb is None, vb)

        # A change: a new digest or none, never the old one.
        p = os.path.join(d.root, DIR, "hello-2.11.tar.gz")
        old = wait_rd(d, DIR + "/hello-2.11.tar.gz")
        pmtest.check("digest of the second file known", old is not None)
        new_data = os.urandom(5000)
        with open(p + ".tmp", "wb") as fh:
            fh.write(new_data)
        os.rename(p + ".tmp", p)
        stale = []
        end = time.time() + 10
        v = None
        while time.time() < end:
            _, v = repr_digest(d, DIR + "/hello-2.11.tar.gz")
            if v is not None and v != want_rd(new_data):
                stale.append(v)
            if v == want_rd(new_data):
                break
            time.sleep(0.1)
        pmtest.check("never a stale Repr-Digest after a change", not stale, stale[:2])
        pmtest.check_eq("the new digest arrives", want_rd(new_data), v)
    pmtest.done()


if __name__ == "__main__":
    main()
