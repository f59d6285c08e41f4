"""The TLS transport under the HTTPS server: records read ahead of what
GnuTLS asks for are never stranded, and a response header held back to go
out with its body always goes out, also when the socket is full.

- Several TLS records in one TCP segment (built with a memory BIO and sent
  with one send) are all answered: the bytes read ahead are served before
  the server waits for the socket again.
- One request split across records and segments is answered.
- Pipelined requests for 6 MiB of 256 KiB files to a client that does not
  read for a while: every header and body arrives intact once it
  reads, so held headers survive partial writes and EAGAIN.
- HEAD, 304 and empty files (no body, nothing held) and a 404 (a short body)
  answer at once on a keep-alive connection.
"""
import hashlib
import os
import socket
import ssl
import time
import pmtest


def tls_pair(d, rcvbuf=None):
    s = socket.create_connection(("127.0.0.1", d.https_port), timeout=20)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, out, server_hostname="localhost")
    while True:
        try:
            o.do_handshake()
            break
        except ssl.SSLWantReadError:
            if out.pending:
                s.sendall(out.read())
            data = s.recv(65536)
            if not data:
                raise OSError("closed in handshake")
            inc.write(data)
    if out.pending:
        s.sendall(out.read())
    return s, o, inc, out


def read_responses(s, o, inc, want, timeout=20, head=False):
    """Read plaintext until `want` responses (by Content-Length) are complete;
    head: answers to HEAD (no body whatever Content-Length says)."""
    buf = b""
    got = []
    end = time.time() + timeout
    while len(got) < want and time.time() < end:
        try:
            chunk = o.read(1 << 20)
            if chunk:
                buf += chunk
        except ssl.SSLWantReadError:
            data = s.recv(1 << 20)
            if not data:
                break
            inc.write(data)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                break
            hdr = buf[:i].decode("latin-1")
            status = int(hdr.split(" ", 2)[1])
            n = 0
            for line in hdr.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.lower() == "content-length":
                    n = int(v)
            body_len = 0 if (status in (204, 304) or head) else n
            if len(buf) < i + 4 + body_len:
                break
            got.append((status, hdr, buf[i + 4:i + 4 + body_len]))
            buf = buf[i + 4 + body_len:]
    return got


def req(path, method="GET", extra=""):
    return ("%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (method, path, extra)).encode()


with pmtest.Daemon() as d:
    files = {}
    for name, size in (("t0.bin", 0), ("t1.bin", 1), ("t4k.bin", 4096),
                       ("t256k.bin", 256 * 1024)):
        data = os.urandom(size)
        with open(os.path.join(d.root, name), "wb") as f:
            f.write(data)
        files[name] = data
    d.reload()
    for _ in range(100):
        if d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/t256k.bin").stdout == b"200":
            break
        time.sleep(0.1)

    # 1. Ten requests, one TLS record each, all in one TCP send.
    s, o, inc, out = tls_pair(d)
    for i in range(10):
        o.write(req("/t4k.bin"))
    wire = out.read()
    s.sendall(wire)
    r = read_responses(s, o, inc, 10)
    pmtest.check_eq("10 records in one segment: 10 answers", 10, len(r))
    pmtest.check("each answer is 200 with the file",
                 all(st == 200 and body == files["t4k.bin"] for st, _, body in r))
    s.close()

    # 2. One request cut into single-byte records, sent in three segments.
    s, o, inc, out = tls_pair(d)
    raw = req("/t1.bin")
    for b in raw:
        o.write(bytes([b]))
    wire = out.read()
    third = len(wire) // 3
    for part in (wire[:third], wire[third:2 * third], wire[2 * third:]):
        s.sendall(part)
        time.sleep(0.05)
    r = read_responses(s, o, inc, 1)
    pmtest.check("a request in %d one-byte records is answered" % len(raw),
                 len(r) == 1 and r[0][0] == 200 and r[0][2] == files["t1.bin"])
    s.close()

    # 3. Backpressure: 24 pipelined 256 KiB downloads (6 MiB, more than the
    # server's socket buffer can take), the client asleep.
    s, o, inc, out = tls_pair(d, rcvbuf=65536)
    for i in range(24):
        o.write(req("/t256k.bin"))
    s.sendall(out.read())
    time.sleep(1.5)
    r = read_responses(s, o, inc, 24, timeout=60)
    pmtest.check_eq("24 pipelined 256 KiB answers after a stalled reader", 24, len(r))
    want = hashlib.sha256(files["t256k.bin"]).hexdigest()
    pmtest.check("every body intact",
                 all(st == 200 and hashlib.sha256(b).hexdigest() == want for st, _, b in r))
    s.close()

    # 4. Answers without a body (nothing is held) and a short error body.
    s, o, inc, out = tls_pair(d)
    o.write(req("/t0.bin"))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5)
    pmtest.check("empty file: 200, no body", len(r) == 1 and r[0][0] == 200 and r[0][2] == b"")
    etag = ""
    o.write(req("/t4k.bin"))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5)
    if r:
        for line in r[0][1].split("\r\n"):
            if line.lower().startswith("etag:"):
                etag = line.split(":", 1)[1].strip()
    o.write(req("/t4k.bin", extra="If-None-Match: %s\r\n" % etag))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5)
    pmtest.check("304 on the same connection", len(r) == 1 and r[0][0] == 304, r[:1])
    o.write(req("/missing.bin"))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5)
    pmtest.check("404 with its short body", len(r) == 1 and r[0][0] == 404 and len(r[0][2]) > 0)
    o.write(req("/t4k.bin", method="HEAD"))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5, head=True)
    pmtest.check("HEAD answers with headers only", len(r) == 1 and r[0][0] == 200
                 and "content-length: 4096" in r[0][1].lower())
    o.write(req("/t4k.bin"))
    s.sendall(out.read())
    r = read_responses(s, o, inc, 1, timeout=5)
    pmtest.check("a GET after the HEAD still gets its body",
                 len(r) == 1 and r[0][2] == files["t4k.bin"])
    s.close()
pmtest.done()
