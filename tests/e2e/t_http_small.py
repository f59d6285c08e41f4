"""Small files are answered from memory (whole 200 answers, checked against
a stat of the file on every use), and that is never visible as stale or
wrong data:

- repeated GETs give the same bytes and headers as the first;
- a file rewritten in place (same size), or replaced by rename (rsync), is
  served new by the very next request, before the index has seen it;
- a deleted file is 404 at once;
- If-None-Match / If-Modified-Since answer 304 from the kept validators;
- Range still gives 206 with the right bytes; HEAD gives the length;
- HSTS goes out over HTTPS only, also when the same file was first
  fetched over plain HTTP (one kept answer per scheme);
- Repr-Digest appears once the background hasher has the file;
- under parallel keep-alive clients while one file is replaced again and
  again, every answer is one whole version with its own length.
pm-tsan: the kept answers are shared by the server's threads.
"""
import http.client
import os
import ssl
import subprocess
import threading
import time
import pmtest


def get(d, path, *args, plain=False):
    """(status, headers dict (lower-case keys), body)"""
    url = ("http://127.0.0.1:%d%s" % (d.http_port, path)) if plain else d.url(path)
    dump = [] if "-I" in args else ["-D", "-"]  # -I prints the head itself
    p = subprocess.run(["curl", "-sS", "--cacert", d.cert] + dump + [url] + list(args),
                       capture_output=True, timeout=30)
    raw = p.stdout
    i = raw.find(b"\r\n\r\n")
    head, body = raw[:i].decode("latin-1"), raw[i + 4:]
    lines = head.split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def until(fn, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return False


with pmtest.Daemon(http=True, sets={"http_mode": "serve"}) as d:
    f = os.path.join(d.root, "small.txt")
    one = b"first version of a small file\n" * 10
    with open(f, "wb") as fh:
        fh.write(one)
    until(lambda: get(d, "/small.txt")[0] == 200)

    s1, h1, b1 = get(d, "/small.txt")
    s2, h2, b2 = get(d, "/small.txt")
    pmtest.check("first GET: 200 with the file", s1 == 200 and b1 == one)
    pmtest.check("second GET: the same bytes", s2 == 200 and b2 == one)
    h1.pop("date", None)
    h2.pop("date", None)
    pmtest.check_eq("second GET: the same headers", h1, h2)
    pmtest.check("one Content-Length, right value", h2.get("content-length") == str(len(one)))

    s, h, b = get(d, "/small.txt", "-H", "If-None-Match: %s" % h1["etag"])
    pmtest.check("If-None-Match with its ETag: 304, no body", s == 304 and b == b"")
    s, h, b = get(d, "/small.txt", "-H", "If-Modified-Since: %s" % h1["last-modified"])
    pmtest.check("If-Modified-Since its date: 304", s == 304)
    s, h, b = get(d, "/small.txt", "-H", "If-None-Match: \"other\"")
    pmtest.check("another ETag: 200 with the file", s == 200 and b == one)
    s, h, b = get(d, "/small.txt", "-r", "6-12")
    pmtest.check("Range 6-12: 206 with those bytes", s == 206 and b == one[6:13],
                 (s, h.get("content-range")))
    s, h, b = get(d, "/small.txt", "-I")
    pmtest.check("HEAD: 200 with the length (t_http_transport: no body on the wire)",
                 s == 200 and h.get("content-length") == str(len(one)))

    s, hp, b = get(d, "/small.txt", plain=True)
    pmtest.check("plain HTTP: 200, same bytes, no HSTS",
                 s == 200 and b == one and "strict-transport-security" not in hp)
    s, h, b = get(d, "/small.txt")
    pmtest.check("HTTPS after plain HTTP: HSTS present", "strict-transport-security" in h)

    # Rewritten in place (same size, other bytes).
    two = one.replace(b"first", b"2ND!!")
    with open(f, "r+b") as fh:
        fh.write(two)
    pmtest.check("rewritten in place: the next GET has the new bytes",
                 get(d, "/small.txt")[2] == two)

    # Replaced by rename, as rsync does.
    three = b"third, longer version, replaced by rename\n" * 20
    tmp = os.path.join(d.root, ".small.txt.tmp")
    with open(tmp, "wb") as fh:
        fh.write(three)
    os.rename(tmp, f)
    pmtest.check("replaced by rename: the next GET has the new bytes",
                 get(d, "/small.txt")[2] == three)
    s, h, b = get(d, "/small.txt")
    pmtest.check("... with a new ETag and length",
                 h.get("etag") != h1["etag"] and h.get("content-length") == str(len(three)))
    s, h, b = get(d, "/small.txt", "-H", "If-None-Match: %s" % h1["etag"])
    pmtest.check("the old ETag no longer matches: 200", s == 200 and b == three)

    pmtest.check("Repr-Digest appears once the hasher has the file",
                 until(lambda: "repr-digest" in get(d, "/small.txt")[1], timeout=15))

    os.unlink(f)
    pmtest.check_eq("deleted: the next GET is 404", 404, get(d, "/small.txt")[0])

    # Parallel clients while the file keeps being replaced.
    versions = [bytes([65 + k]) * (100 + 37 * k) for k in range(8)]
    with open(f, "wb") as fh:
        fh.write(versions[0])
    bad, count = [], [0]
    stop = time.time() + 4
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False

    def client():
        c = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=20)
        for _ in range(300):
            if time.time() > stop:
                break
            c.request("GET", "/small.txt")
            resp = c.getresponse()
            body = resp.read()
            count[0] += 1
            if resp.status == 200 and (body not in versions or
                                       int(resp.getheader("Content-Length")) != len(body)):
                bad.append(body[:20])
        c.close()

    def writer():
        for k in range(200):
            if time.time() > stop:
                break
            tmp = f + ".tmp"
            with open(tmp, "wb") as fh:
                fh.write(versions[k % len(versions)])
            os.rename(tmp, f)
            time.sleep(0.01)

    ts = [threading.Thread(target=client) for _ in range(6)] + [threading.Thread(target=writer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    pmtest.check("parallel clients during replacements: every answer a whole version",
                 not bad and count[0] > 50, (count[0], bad[:3]))
pmtest.done()
