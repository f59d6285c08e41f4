"""HTTPS files: GET/HEAD headers, content types, 404, Range (single,
multiple, 416, beyond 4 GiB), conditional requests (304, If-Range), curl -C -
resume, dot-files hidden."""
import email.utils
import hashlib
import http.client
import os
import ssl
import subprocess
import tempfile
import pmtest


def conn(d):
    ctx = ssl.create_default_context(cafile=d.cert)
    return http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=20)


def req(d, method, path, headers=None):
    c = conn(d)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


with pmtest.Daemon() as d:
    root = d.root
    os.makedirs(os.path.join(root, "t"), exist_ok=True)
    data = bytes((i * 7 + 3) % 251 for i in range(300000))
    with open(os.path.join(root, "t", "blob.bin"), "wb") as f:
        f.write(data)
    for name in ("a.iso", "b.tar.gz", "c.txt", "d.json", "e.deb", "f.html", "g.unknownext"):
        with open(os.path.join(root, "t", name), "wb") as f:
            f.write(b"x" * 10)
    with open(os.path.join(root, "t", ".secret"), "wb") as f:
        f.write(b"hidden")
    big = os.path.join(root, "t", "big5g.img")
    with open(big, "wb") as f:
        f.truncate(5 * 1024 ** 3)
        f.seek(5 * 1024 ** 3 - 5)
        f.write(b"TAIL!")
    os.utime(os.path.join(root, "t", "blob.bin"), (1700000000, 1700000000))
    d.reload()  # let the index see the new files (inotify does too)
    pmtest.wait_port(d.https_port)
    ok = False
    for _ in range(100):
        r, _ = req(d, "HEAD", "/t/big5g.img")
        if r.status == 200:
            ok = True
            break
        import time
        time.sleep(0.1)
    pmtest.check("new files are indexed", ok)

    r, body = req(d, "GET", "/t/blob.bin")
    pmtest.check_eq("GET 200", 200, r.status)
    pmtest.check("GET body", body == data)
    pmtest.check_eq("Content-Length", str(len(data)), r.getheader("Content-Length"))
    pmtest.check_eq("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT", r.getheader("Last-Modified"))
    etag = r.getheader("ETag") or ""
    pmtest.check("strong ETag", etag.startswith('"') and etag.endswith('"'), etag)
    pmtest.check_eq("Accept-Ranges", "bytes", r.getheader("Accept-Ranges"))
    pmtest.check_eq("nosniff", "nosniff", r.getheader("X-Content-Type-Options"))
    pmtest.check_eq("Server", "pubmirror", r.getheader("Server"))
    pmtest.check("HSTS", (r.getheader("Strict-Transport-Security") or "").startswith("max-age="))

    r, body = req(d, "HEAD", "/t/blob.bin")
    pmtest.check_eq("HEAD 200", 200, r.status)
    pmtest.check_eq("HEAD no body", b"", body)
    pmtest.check_eq("HEAD Content-Length", str(len(data)), r.getheader("Content-Length"))
    pmtest.check_eq("HEAD Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT", r.getheader("Last-Modified"))

    types = {"a.iso": "application/x-iso9660-image", "b.tar.gz": "application/gzip",
             "c.txt": "text/plain; charset=utf-8", "d.json": "application/json; charset=utf-8",
             "e.deb": "application/vnd.debian.binary-package",
             "f.html": "text/html; charset=utf-8", "g.unknownext": "application/octet-stream"}
    for n, t in types.items():
        r, _ = req(d, "HEAD", "/t/" + n)
        pmtest.check_eq("type of " + n, t, r.getheader("Content-Type"))
    r, _ = req(d, "HEAD", "/t/f.html")
    pmtest.check("served HTML is sandboxed", "sandbox" in (r.getheader("Content-Security-Policy") or ""))

    r, body = req(d, "GET", "/t/nothere.bin")
    pmtest.check_eq("missing: 404", 404, r.status)
    pmtest.check("404 has no Location", r.getheader("Location") is None)
    r, body = req(d, "GET", "/t/blob.bin/")
    pmtest.check_eq("file with trailing slash: 404", 404, r.status)
    r, body = req(d, "GET", "/t/.secret")
    pmtest.check_eq("dot-file: 404", 404, r.status)

    # Range
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=100-199"})
    pmtest.check_eq("range 206", 206, r.status)
    pmtest.check("range body", body == data[100:200])
    pmtest.check_eq("Content-Range", "bytes 100-199/%d" % len(data), r.getheader("Content-Range"))
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=-10"})
    pmtest.check("suffix range", r.status == 206 and body == data[-10:])
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=%d-" % len(data)})
    pmtest.check_eq("416", 416, r.status)
    pmtest.check_eq("416 Content-Range", "bytes */%d" % len(data), r.getheader("Content-Range"))
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=0-9,1000-1009"})
    ct = r.getheader("Content-Type") or ""
    pmtest.check("multipart", r.status == 206 and ct.startswith("multipart/byteranges; boundary="), ct)
    if ct.startswith("multipart/"):
        b = ct.split("boundary=")[1].encode()
        parts = body.split(b"--" + b)
        pmtest.check_eq("multipart part count", 4, len(parts))
        pmtest.check("multipart first part", b"Content-Range: bytes 0-9/300000\r\n\r\n" + data[0:10] in body)
        pmtest.check("multipart second part", b"Content-Range: bytes 1000-1009/300000\r\n\r\n" + data[1000:1010] in body)
        pmtest.check_eq("multipart Content-Length", str(len(body)), r.getheader("Content-Length"))
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=0-299999,0-299999"})
    pmtest.check("overlapping ranges beyond size: 200 whole", r.status == 200 and body == data)
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=" + ",".join("%d-%d" % (i, i) for i in range(40))})
    pmtest.check("too many ranges: 200 whole", r.status == 200 and body == data)
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=junk"})
    pmtest.check("malformed Range ignored", r.status == 200 and body == data)

    # Conditional
    r, body = req(d, "GET", "/t/blob.bin", {"If-None-Match": etag})
    pmtest.check_eq("If-None-Match: 304", 304, r.status)
    pmtest.check_eq("304 carries ETag", etag, r.getheader("ETag"))
    r, body = req(d, "GET", "/t/blob.bin", {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"})
    pmtest.check_eq("If-Modified-Since same: 304", 304, r.status)
    r, body = req(d, "GET", "/t/blob.bin", {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"})
    pmtest.check_eq("If-Modified-Since older: 200", 200, r.status)
    r, body = req(d, "GET", "/t/blob.bin", {"If-None-Match": '"other"',
                                            "If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"})
    pmtest.check_eq("If-None-Match wins over IMS", 200, r.status)
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=10-19", "If-Range": etag})
    pmtest.check("If-Range same ETag: 206", r.status == 206 and body == data[10:20])
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=10-19", "If-Range": '"stale"'})
    pmtest.check("If-Range other ETag: 200 whole", r.status == 200 and body == data)
    r, body = req(d, "GET", "/t/blob.bin", {"Range": "bytes=10-19",
                                            "If-Range": "Tue, 14 Nov 2023 22:13:20 GMT"})
    pmtest.check("If-Range date (apt): 206", r.status == 206 and body == data[10:20])

    # Beyond 4 GiB
    r, body = req(d, "HEAD", "/t/big5g.img")
    pmtest.check_eq("5 GiB Content-Length", str(5 * 1024 ** 3), r.getheader("Content-Length"))
    r, body = req(d, "GET", "/t/big5g.img", {"Range": "bytes=%d-" % (5 * 1024 ** 3 - 5)})
    pmtest.check("5 GiB tail range", r.status == 206 and body == b"TAIL!", (r.status, body[:20]))
    pmtest.check_eq("5 GiB Content-Range", "bytes 5368709115-5368709119/5368709120",
                    r.getheader("Content-Range"))

    # curl -C - resume
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "blob.bin")
        with open(out, "wb") as f:
            f.write(data[:123457])
        p = d.curl("-C", "-", "-o", out, "-w", "%{http_code}", path="/t/blob.bin")
        pmtest.check_eq("curl -C - status", b"206", p.stdout)
        with open(out, "rb") as f:
            got = f.read()
        pmtest.check("curl -C - result", hashlib.sha256(got).digest() == hashlib.sha256(data).digest())
        # wget -c
        with open(out, "wb") as f:
            f.write(data[:5000])
        p = subprocess.run(["wget", "-q", "-c", "--ca-certificate", d.cert, "-O", out,
                            d.url("/t/blob.bin")], capture_output=True, timeout=60)
        with open(out, "rb") as f:
            got = f.read()
        pmtest.check("wget -c resumes", p.returncode == 0 and got == data, p.stderr[-300:])

    # Access log: one line per request, combined format, controls escaped.
    p = d.curl("-o", "/dev/null", "-A", "evil\x01\x7f\"agent", "-e", "http://ref/\x02", path="/README")
    d.settle(d.access_log)
    with open(d.access_log, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    pmtest.check("access log line", '"GET /t/blob.bin HTTP/1.1" 200 300000' in log, log[-500:])
    last = [l for l in log.splitlines() if "/README" in l][-1]
    pmtest.check("control characters escaped in the log", "\x01" not in last and "\x7f" not in last
                 and "\x02" not in last and "evil" in last, last)

with pmtest.Daemon(sets={"hsts_max_age": "0"}) as d:
    p = d.curl("-I", path="/README")
    pmtest.check("hsts_max_age = 0: no HSTS header", b"Strict-Transport-Security" not in p.stdout
                 and p.stdout.startswith(b"HTTP/1.1 200"), p.stdout[:300])
pmtest.done()
