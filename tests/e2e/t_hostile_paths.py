"""Hostile clients: path escapes on FTP and HTTPS, while two good clients
download a 200 MB file over FTPS and HTTPS.  Every attack gets its exact
answer; the secret outside the root is never sent; afterwards the downloads
are byte-exact, the daemon serves, its memory is back and the tree is
unchanged.  # pm-tsan"""
import os
import socket

import hostile
import pmtest
from hostile import check, check_eq

SECRET = b"TOPSECRET-outside-the-root"


def setup(root):
    out = os.path.join(os.path.dirname(root), "outside")
    os.mkdir(out)
    with open(os.path.join(out, "secret.txt"), "wb") as f:
        f.write(SECRET + b"\n")
    os.chmod(out, 0o755)
    os.chmod(os.path.join(out, "secret.txt"), 0o644)
    os.symlink(os.path.join(out, "secret.txt"), os.path.join(root, "pub", "abs-secret"))
    os.symlink("../../outside/secret.txt", os.path.join(root, "pub", "rel-secret"))
    os.symlink(out, os.path.join(root, "pub", "outdir"))
    os.symlink("/etc", os.path.join(root, "pub", "etc"))


HTTPS_CASES = [
    # (request target, status, text in the body)
    ("/pub/../../etc/passwd", 400, b"path climbs above the root"),
    ("/..", 400, b"path climbs above the root"),
    ("/../outside/secret.txt", 400, b"path climbs above the root"),
    ("/%2e%2e/%2e%2e/etc/passwd", 400, b"path climbs above the root"),
    ("/%2E%2E/outside/secret.txt", 400, b"path climbs above the root"),
    ("/pub/%2e%2e/%2e%2e/", 400, b"path climbs above the root"),
    ("/pub%2f..%2f..%2fetc%2fpasswd", 400, b"encoded slash (%2F)"),
    ("/pub/%2F", 400, b"encoded slash (%2F)"),
    ("/pub/README%00.html", 400, b"encoded NUL byte (%00)"),
    ("/pub\\..\\..\\etc\\passwd", 400, b"path contains a backslash"),
    ("/pub/..%5c..%5cetc", 400, b"encoded backslash (%5C)"),
    ("/pub/%zz", 400, b"malformed percent-escape"),
    ("/pub/%2", 400, b"malformed percent-escape"),
    ("/pub/a%0d%0aSet-Cookie:%20x", 400, b"path contains a control character"),
    ("/pub/%7f", 400, b"path contains a control character"),
    ("/" + "a" * 300, 400, b"path component is too long"),
    ("/" + "a/" * 3000, 400, b"path is too long"),
    ("../etc/passwd", 400, b"request target must start with /"),
    ("/pub/abs-secret", 404, b"Not Found"),
    ("/pub/rel-secret", 404, b"Not Found"),
    ("/pub/outdir/secret.txt", 404, b"Not Found"),
    ("/pub/outdir/", 404, b"Not Found"),
    ("/pub/etc/passwd", 404, b"Not Found"),
    ("/pub/etc/", 404, b"Not Found"),
]

FTP_CASES = [
    # (command, code, text in the reply)
    ("CWD ..", 550, b"path climbs above the root"),
    ("CWD ../..", 550, b"path climbs above the root"),
    ("CWD /pub/../..", 550, b"path climbs above the root"),
    ("SIZE ../outside/secret.txt", 550, b"path climbs above the root"),
    ("SIZE /../../etc/passwd", 550, b"path climbs above the root"),
    ("SIZE %2e%2e/%2e%2e/etc/passwd", 550, b"No such file or directory"),
    ("SIZE ..\\..\\etc\\passwd", 550, b"path contains a backslash"),
    ("SIZE pub/\x01x", 550, b"control character"),
    ("SIZE " + "b" * 300, 550, b"path component is too long"),
    ("SIZE " + "a/" * 100, 550, b"Path refused"),
    ("SIZE pub/abs-secret", 550, b"No such file or directory"),
    ("SIZE pub/rel-secret", 550, b"No such file or directory"),
    ("SIZE pub/outdir/secret.txt", 550, b"No such file or directory"),
    ("CWD pub/outdir", 550, b"No such directory"),
    ("CWD pub/etc", 550, b"No such directory"),
    ("SIZE pub/etc/passwd", 550, b"No such file or directory"),
    ("MLST pub/abs-secret", 550, b"No such file or directory"),
    ("MDTM pub/rel-secret", 550, b"No such file or directory"),
    ("HASH pub/abs-secret", 550, b"No such file or directory"),
    ("PWD", 257, b'"/"'),
]


def ftp_retr(c, path):
    """RETR through EPSV: (code of the RETR reply, data received)."""
    code, lines = c.cmd("EPSV")
    if code != 229:
        return code, b""
    port = int(lines[0].split(b"|||")[1].split(b"|")[0])
    ds = socket.create_connection(("127.0.0.1", port), timeout=10)
    code, _ = c.cmd("RETR " + path)
    data = b""
    if code == 150:
        ds.settimeout(10)
        while True:
            b = ds.recv(65536)
            if not b:
                break
            data += b
        ds.close()
        code, _ = c.reply()
    else:
        ds.close()
    return code, data


def main():
    d, digest = hostile.start_daemon(setup=setup)
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started", good.started())

        for target, status, text in HTTPS_CASES:
            code, body = hostile.https_status(d, target)
            check_eq("HTTPS GET %r answers %d" % (target[:50], status), status, code)
            check("HTTPS GET %r says %r" % (target[:50], text), text in body, body[:200])
            check("HTTPS GET %r does not leak the secret" % target[:50], SECRET not in body)

        c = hostile.Ctl(d)
        check_eq("FTP greeting", 220, c.reply()[0])
        check_eq("FTP anonymous login", 230, c.login()[0])
        for command, code, text in FTP_CASES:
            got, lines = c.cmd(command)
            raw = b"".join(lines)
            check_eq("FTP %r answers %d" % (command[:50], code), code, got)
            check("FTP %r says %r" % (command[:50], text), text in raw, raw[:200])
        for path in ("pub/abs-secret", "pub/rel-secret", "pub/outdir/secret.txt",
                     "../outside/secret.txt", "/pub/etc/passwd"):
            got, data = ftp_retr(c, path)
            check_eq("FTP RETR %s answers 550" % path, 550, got)
            check("FTP RETR %s sends nothing" % path, data == b"")
        got, data = ftp_retr(c, "pub/")
        check_eq("FTP RETR of a directory answers 550", 550, got)
        c.cmd("QUIT")
        c.close()

        # Listings never show what a symlink out of the root points to.
        r = d.curl(path="/pub/")
        check("HTTPS listing of /pub/ does not leak the secret", SECRET not in r.stdout)
        check("good downloads still running after the path attacks", good.running())
        hostile.finish(d, good, digest, tree_before, rss_start)
    pmtest.done()


main()
