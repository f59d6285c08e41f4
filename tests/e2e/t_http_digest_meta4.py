"""What a downloader gets to verify a file: Repr-Digest (RFC 9530) and
Digest (RFC 3230) on GET and HEAD, checked by aria2; a Metalink 4 document
(RFC 5854) at <file>.meta4 and by Accept negotiation, with size, SHA-256,
this node's HTTPS and FTP URLs and the configured mirrors, followed and
verified by aria2.  A digest that does not match the bytes makes aria2
fail: the checks are real."""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
import pmtest

FILE = "pub/misc/speedtest-256K.bin"
NS = "{urn:ietf:params:xml:ns:metalink}"


def head(d, path, *extra):
    return d.curl("--head", *extra, path=path).stdout.decode("latin-1")


def field(h, name):
    m = re.search(r"(?im)^%s: *(.*?)\r?$" % re.escape(name), h)
    return m.group(1) if m else None


def aria2(d, url, out, *extra):
    return subprocess.run(["aria2c", "--ca-certificate", d.cert, "-d", out, "--log=-",
                           "--log-level=notice", "--max-tries=1", "--retry-wait=0",
                           "--summary-interval=0", *extra, url],
                          capture_output=True, text=True, timeout=300)


def main():
    mirror = "https://mirror.example.org/pub-mirror/"
    with pmtest.Daemon(sets={"mirrors": mirror + ",ftp://ftp.example.net/x"}) as d:
        with open(os.path.join(d.root, FILE), "rb") as f:
            data = f.read()
        sha = hashlib.sha256(data)
        want_rd = "sha-256=:%s:" % base64.b64encode(sha.digest()).decode()
        want_d = "SHA-256=%s" % base64.b64encode(sha.digest()).decode()
        h = ""
        for _ in range(300):
            h = head(d, "/" + FILE)
            if field(h, "Repr-Digest"):
                break
            time.sleep(0.1)
        pmtest.check_eq("curl --head: Repr-Digest", want_rd, field(h, "Repr-Digest"))
        pmtest.check_eq("curl --head: Digest", want_d, field(h, "Digest"))
        g = d.curl("-D", "-", "-o", "/dev/null", path="/" + FILE).stdout.decode("latin-1")
        pmtest.check_eq("GET: Digest", want_d, field(g, "Digest"))

        # the JSON listing and the page carry it too
        j = d.curl(path="/pub/misc/?format=json").stdout.decode()
        pmtest.check("JSON listing: sha256", '"sha256":"%s"' % sha.hexdigest() in j, j[:300])
        page = d.curl(path="/pub/misc/").stdout.decode()
        pmtest.check("page: the digest as text", "<code>%s</code>" % sha.hexdigest() in page)

        out = tempfile.mkdtemp(prefix="pm-aria2-")
        with open(d.access_log, "w"):
            pass
        p = aria2(d, d.url("/" + FILE), out)
        pmtest.check("aria2c over HTTPS exits 0", p.returncode == 0, p.stdout[-600:])
        with open(d.access_log) as fl:
            alog = fl.read()
        pmtest.check("aria2c fetched the file itself (no Metalink by negotiation)",
                     ".meta4" not in alog and alog.count("aria2") >= 1, alog)
        pmtest.check("aria2c verified the Digest header",
                     "Verification finished successfully" in p.stdout, p.stdout[-600:])

        # .meta4
        r = d.curl("-D", "-", path="/" + FILE + ".meta4").stdout.decode()
        hdr, _, body = r.partition("\r\n\r\n")
        pmtest.check_eq(".meta4 Content-Type", "application/metalink4+xml",
                        field(hdr, "Content-Type"))
        doc = ET.fromstring(body)
        f = doc.find(NS + "file")
        pmtest.check_eq(".meta4 file name", "speedtest-256K.bin", f.get("name"))
        pmtest.check_eq(".meta4 size", str(len(data)), f.find(NS + "size").text)
        hh = f.find(NS + "hash")
        pmtest.check_eq(".meta4 sha-256", ("sha-256", sha.hexdigest()),
                        (hh.get("type"), hh.text))
        urls = [u.text for u in f.findall(NS + "url")]
        pmtest.check_eq(".meta4 URLs: HTTPS, FTP of this node, then the mirrors", [
            d.url("/" + FILE), "ftp://127.0.0.1:%d/%s" % (d.ftp_port, FILE),
            mirror.rstrip("/") + "/" + FILE, "ftp://ftp.example.net/x/" + FILE], urls)
        neg = d.curl("-H", "Accept: application/metalink4+xml", path="/" + FILE).stdout
        pmtest.check_eq("Accept: application/metalink4+xml gives the same document",
                        body.encode(), neg)
        pmtest.check("a plain GET still gets the file",
                     d.curl(path="/" + FILE).stdout == data)
        pmtest.check("Accept: */* with metalink4+xml (aria2's) gets the file",
                     d.curl("-H", "Accept: */*,application/metalink4+xml",
                            path="/" + FILE).stdout == data)
        pmtest.check_eq("no .meta4 of a directory", "404",
                        d.curl("-o", "/dev/null", "-w", "%{http_code}",
                               path="/pub/misc.meta4").stdout.decode())
        pmtest.check_eq("no .meta4 of a missing file", "404",
                        d.curl("-o", "/dev/null", "-w", "%{http_code}",
                               path="/pub/nope.bin.meta4").stdout.decode())
        bad = d.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: evil\"<x>",
                     path="/" + FILE + ".meta4").stdout.decode()
        pmtest.check_eq("a Host that is not a host name: 400", "400", bad)

        # aria2 follows the .meta4 (this node's HTTPS and FTP URLs; the
        # example.* mirrors do not resolve and are skipped) and verifies
        shutil.rmtree(out, ignore_errors=True)
        out = tempfile.mkdtemp(prefix="pm-aria2-")
        p = aria2(d, d.url("/" + FILE + ".meta4"), out, "--metalink-preferred-protocol=https",
                  "--async-dns=false")
        got = os.path.join(out, "speedtest-256K.bin")
        pmtest.check("aria2c with the .meta4: file arrives",
                     os.path.exists(got) and open(got, "rb").read() == data, p.stdout[-800:])

        # Negative control: same size, mtime and inode, other bytes: the
        # cached digest no longer matches and aria2 must refuse the file.
        st = os.stat(os.path.join(d.root, FILE))
        with open(os.path.join(d.root, FILE), "r+b") as fh:
            fh.write(b"\0" * 64)
        os.utime(os.path.join(d.root, FILE), ns=(st.st_atime_ns, st.st_mtime_ns))
        pmtest.check_eq("stale digest still sent (same identity)", want_d,
                        field(head(d, "/" + FILE), "Digest"))
        shutil.rmtree(out, ignore_errors=True)
        out = tempfile.mkdtemp(prefix="pm-aria2-")
        p = aria2(d, d.url("/" + FILE), out)
        pmtest.check("aria2c refuses bytes that do not match the Digest header",
                     p.returncode != 0, p.stdout[-600:])
        shutil.rmtree(out, ignore_errors=True)
        out = tempfile.mkdtemp(prefix="pm-aria2-")
        p = aria2(d, d.url("/" + FILE + ".meta4"), out, "--async-dns=false")
        pmtest.check("aria2c refuses bytes that do not match the .meta4 hash",
                     p.returncode != 0, p.stdout[-600:])
        shutil.rmtree(out, ignore_errors=True)
    pmtest.done()


if __name__ == "__main__":
    main()
