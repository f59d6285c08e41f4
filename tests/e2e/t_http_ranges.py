"""Range requests (http_file.c) on each way a body leaves the server: HTTPS
(the block reader), plain HTTP (sendfile for one range), a rate-limited
server (the paced reader) and a small file (never taken from the memory
cache when a Range is asked).  Each: single, suffix, open-ended and
clipped ranges; several ranges (multipart/byteranges, parsed part by part,
boundary and lengths exact); ranges that overlap beyond the size (whole
file); unsatisfiable (416 with Content-Range: bytes */size, no body);
If-Range with the ETag, a stale or weak ETag, the Last-Modified date and
another date; HEAD with a Range; If-None-Match winning over Range."""
import email.utils
import http.client
import os
import re
import ssl

import pmtest

BIG = bytes((i * 7 + 3) % 251 for i in range(300000))
SMALL = bytes((i * 13 + 1) % 256 for i in range(5000))
MTIME = 1700000000


def fetch(d, tls, method, path, headers=None):
    if tls:
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=60)
    else:
        c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def parts(ctype, body):
    """[(content-range, bytes)] of a multipart/byteranges body, or None
    when it is not exactly one."""
    m = re.match(r'multipart/byteranges; boundary=([0-9A-Za-z]+)$', ctype or "")
    if not m:
        return None
    b = m.group(1).encode()
    if not body.startswith(b"--" + b + b"\r\n") or not body.endswith(b"\r\n--" + b + b"--\r\n"):
        return None
    inner = body[len(b) + 4:-(len(b) + 8)]
    out = []
    for p in inner.split(b"\r\n--" + b + b"\r\n"):
        head, sep, data = p.partition(b"\r\n\r\n")
        if not sep:
            return None
        hdrs = dict(l.split(b": ", 1) for l in head.split(b"\r\n"))
        out.append((hdrs.get(b"Content-Range", b"").decode(), data))
    return out


def run(d, tls, path, data, label):
    n = len(data)
    t = "%s %s" % (label, path)

    def get(hdrs, method="GET"):
        return fetch(d, tls, method, path, hdrs)

    r, body = get({"Range": "bytes=100-199"})
    pmtest.check("%s: single range 206 and bytes" % t, r.status == 206 and body == data[100:200],
                 (r.status, len(body)))
    pmtest.check_eq("%s: single Content-Range" % t, "bytes 100-199/%d" % n,
                    r.getheader("Content-Range"))
    pmtest.check_eq("%s: single Content-Length" % t, "100", r.getheader("Content-Length"))
    r, body = get({"Range": "bytes=-10"})
    pmtest.check("%s: suffix range" % t, r.status == 206 and body == data[-10:], r.status)
    pmtest.check_eq("%s: suffix Content-Range" % t, "bytes %d-%d/%d" % (n - 10, n - 1, n),
                    r.getheader("Content-Range"))
    r, body = get({"Range": "bytes=-%d" % (n * 2)})
    pmtest.check("%s: suffix longer than the file: all of it, 206" % t,
                 r.status == 206 and body == data, r.status)
    r, body = get({"Range": "bytes=%d-" % (n - 1000)})
    pmtest.check("%s: open-ended range" % t, r.status == 206 and body == data[n - 1000:],
                 r.status)
    pmtest.check_eq("%s: open-ended Content-Range" % t, "bytes %d-%d/%d" % (n - 1000, n - 1, n),
                    r.getheader("Content-Range"))
    r, body = get({"Range": "bytes=%d-%d" % (n - 5, n + 5000)})
    pmtest.check("%s: end past the size clipped" % t, r.status == 206 and body == data[n - 5:],
                 r.status)
    r, body = get({"Range": "bytes=0-0"})
    pmtest.check("%s: first byte" % t, r.status == 206 and body == data[:1], r.status)

    r, body = get({"Range": "bytes=0-9, 1000-1009,-5"})
    ps = parts(r.getheader("Content-Type"), body)
    pmtest.check("%s: three ranges: 206 multipart/byteranges" % t,
                 r.status == 206 and ps is not None, (r.status, r.getheader("Content-Type")))
    pmtest.check_eq("%s: multipart Content-Length is the body's" % t, str(len(body)),
                    r.getheader("Content-Length"))
    pmtest.check("%s: no Content-Range on the multipart answer" % t,
                 r.getheader("Content-Range") is None, r.getheader("Content-Range"))
    want = [("bytes 0-9/%d" % n, data[0:10]), ("bytes 1000-1009/%d" % n, data[1000:1010]),
            ("bytes %d-%d/%d" % (n - 5, n - 1, n), data[-5:])]
    pmtest.check("%s: parts in the order asked, with their bytes" % t, ps == want,
                 [(p[0], len(p[1])) for p in ps or []])
    r, body = get({"Range": "bytes=%d-%d,0-1" % (n + 10, n + 20)})
    pmtest.check("%s: one unsatisfiable, one good: single 206" % t,
                 r.status == 206 and body == data[0:2], r.status)
    r, body = get({"Range": "bytes=0-%d,0-%d" % (n - 1, n - 1)})
    pmtest.check("%s: ranges overlapping beyond the size: 200 whole" % t,
                 r.status == 200 and body == data, r.status)

    r, body = get({"Range": "bytes=%d-" % n})
    pmtest.check_eq("%s: unsatisfiable: 416" % t, 416, r.status)
    pmtest.check_eq("%s: 416 Content-Range bytes */size" % t, "bytes */%d" % n,
                    r.getheader("Content-Range"))
    pmtest.check_eq("%s: 416 has no body" % t, b"", body)
    r, body = get({"Range": "bytes=%d-%d,%d-" % (n, n + 10, n + 100)})
    pmtest.check("%s: every range unsatisfiable: 416" % t,
                 r.status == 416 and r.getheader("Content-Range") == "bytes */%d" % n,
                 (r.status, r.getheader("Content-Range")))
    r, body = get({"Range": "bytes=-0"})
    pmtest.check_eq("%s: empty suffix: 416" % t, 416, r.status)

    r, _ = get({}, "HEAD")
    etag, lastmod = r.getheader("ETag"), r.getheader("Last-Modified")
    pmtest.check("%s: ETag and Last-Modified" % t, etag and lastmod, (etag, lastmod))
    r, body = get({"Range": "bytes=10-19", "If-Range": etag})
    pmtest.check("%s: If-Range current ETag: 206" % t, r.status == 206 and body == data[10:20],
                 r.status)
    r, body = get({"Range": "bytes=10-19", "If-Range": '"stale"'})
    pmtest.check("%s: If-Range stale ETag: 200 whole" % t, r.status == 200 and body == data,
                 r.status)
    r, body = get({"Range": "bytes=10-19", "If-Range": "W/" + (etag or "")})
    pmtest.check("%s: If-Range weak ETag: 200 whole" % t, r.status == 200 and body == data,
                 r.status)
    r, body = get({"Range": "bytes=10-19", "If-Range": lastmod})
    pmtest.check("%s: If-Range Last-Modified date: 206" % t,
                 r.status == 206 and body == data[10:20], r.status)
    other = email.utils.formatdate(MTIME - 3600, usegmt=True)
    r, body = get({"Range": "bytes=10-19", "If-Range": other})
    pmtest.check("%s: If-Range another date: 200 whole" % t, r.status == 200 and body == data,
                 r.status)

    r, body = get({"Range": "bytes=100-199"}, "HEAD")
    pmtest.check("%s: HEAD with Range: 206, length of the range, no body" % t,
                 r.status == 206 and r.getheader("Content-Length") == "100" and body == b"",
                 (r.status, r.getheader("Content-Length")))
    r, body = get({"Range": "bytes=0-9", "If-None-Match": etag})
    pmtest.check("%s: If-None-Match match wins over Range: 304" % t,
                 r.status == 304 and body == b"", r.status)


def tree(d):
    t = os.path.join(d.root, "r")
    os.mkdir(t)
    for name, data in (("big.bin", BIG), ("small.bin", SMALL)):
        p = os.path.join(t, name)
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (MTIME, MTIME))


with pmtest.Daemon(http=True, start=False) as d:
    tree(d)
    d.write_conf({"http_mode": "serve"})
    d.start()
    pmtest.wait_port(d.http_port)
    run(d, True, "/r/big.bin", BIG, "https")
    run(d, True, "/r/small.bin", SMALL, "https")
    # a small file answered once from memory, then asked for a range
    r, body = fetch(d, True, "GET", "/r/small.bin")
    pmtest.check("https small file whole from memory", r.status == 200 and body == SMALL)
    run(d, True, "/r/small.bin", SMALL, "https after the memory cache")
    run(d, False, "/r/big.bin", BIG, "plain http (sendfile)")
    run(d, False, "/r/small.bin", SMALL, "plain http")

with pmtest.Daemon(http=True, start=False) as d:
    tree(d)
    d.write_conf({"http_mode": "serve", "rate_total": "200M"})
    d.start()
    pmtest.wait_port(d.http_port)
    run(d, True, "/r/big.bin", BIG, "https paced")
    run(d, False, "/r/big.bin", BIG, "plain http paced")

pmtest.done()
