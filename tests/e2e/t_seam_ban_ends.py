"""A ban ends what the banned address already has open: after three wrong
FTPS passwords from one address, its other FTP control connections (one
logged in, one only greeted) get 421 and are closed, the greeted one can
no longer log in, and its idle keep-alive HTTPS connection is closed.  A
client from another address is not touched."""
import os
import subprocess
import tempfile
import time

import hostile
import pmtest
from hostile import check, check_eq

SRC = "127.0.0.7"


def main():
    hp = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True,
                        check=True)
    tmp = tempfile.mkdtemp(prefix="pm-banend-")
    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write("alice:" + hp.stdout.strip() + "\n")
    os.chmod(htpasswd, 0o644)
    with pmtest.Daemon(sets={"auth_file": htpasswd, "auth_paths": "/pub/hello",
                             "ban_after": "3", "ban_time": "120"}) as d:
        # opened before the ban: greeted only, logged in, idle HTTPS
        greeted = hostile.Ctl(d, src=SRC, timeout=5.0)
        check_eq("greeted connection: 220", 220, greeted.reply()[0])
        anon = hostile.Ctl(d, src=SRC, timeout=5.0)
        anon.reply()
        check_eq("anonymous session logged in", 230, anon.login()[0])
        other = hostile.Ctl(d, src="127.0.0.8")
        other.reply()
        check_eq("another address logged in", 230, other.login()[0])
        web = hostile.ssl_ctx(d).wrap_socket(hostile.conn(d, d.https_port, SRC, 15.0))
        web.sendall(b"GET /README HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += web.recv(65536)
        head, _, body = first.partition(b"\r\n\r\n")
        length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0]
        while len(body) < length:
            body += web.recv(65536)
        check("keep-alive HTTPS connection answered 200", first.startswith(b"HTTP/1.1 200"),
              first[:100])
        # the ban: three wrong passwords over FTPS
        bad = hostile.Ctl(d, src=SRC)
        bad.reply()
        bad.cmd("AUTH TLS")
        bad.starttls()
        codes = []
        for i in range(3):
            bad.cmd("USER alice")
            codes.append(bad.cmd("PASS wrong%d" % i)[0])
        check_eq("three wrong passwords: 530, 530, 421", [530, 530, 421], codes)
        bad.close()
        t0 = time.monotonic()
        web.settimeout(5.0)
        try:
            rest = web.recv(65536)
        except (OSError, Exception):
            rest = b"(no EOF within 5 s)"
        check("idle HTTPS connection of the banned address closed", rest == b"", rest[:100])
        for name, c in (("greeted", greeted), ("logged-in", anon)):
            try:
                code, lines = c.reply()
            except (EOFError, OSError) as e:
                code, lines = repr(e), []
            check_eq("%s connection of the banned address gets 421" % name, 421, code)
            check("%s: 421 says why" % name,
                  bool(lines) and b"banned for a while after failed logins" in lines[0], lines)
            check("%s connection closed" % name, c.closed(timeout=5.0))
        # the greeted connection can no longer log in (it is gone)
        try:
            greeted.send("USER anonymous\r\n")
            greeted.send("PASS guest@example.org\r\n")
            got = greeted.s.recv(65536)
        except OSError:
            got = b""
        check("pre-ban connection cannot log in after the ban", b"230" not in got, got)
        print("# sessions ended %.2f s after the ban" % (time.monotonic() - t0))
        code, _ = other.cmd("NOOP")
        check_eq("another address's session is untouched", 200, code)
        other.close()
        status, _ = hostile.https_status(d, "/README", src="127.0.0.8")
        check_eq("another address still served over HTTPS", 200, status)
        for c in (greeted, anon):
            c.close()
        web.close()
    pmtest.done()


main()
