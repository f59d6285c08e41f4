"""Python's ftplib.FTP_TLS with prot_p(): MLSD facts, SIZE, MDTM, REST, a
HASH checked against hashlib, active mode, and the views equal to the
tree (what a mirror scanner compares with HTTPS)."""
import calendar
import hashlib
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402
from ftptest import tls_ctx, wide_pasv  # noqa: E402

FILE = "pub/hello/hello-2.12.tar.gz"


def connect(d):
    ctx = tls_ctx(d)
    f = ftplib.FTP_TLS(context=ctx, timeout=15)
    f.connect("127.0.0.1", d.ftp_port)
    f.login("anonymous", "ftplib@example.org")
    f.prot_p()
    return f


def fetch(f, cmd, rest=None):
    out = io.BytesIO()
    f.retrbinary(cmd, out.write, rest=rest)
    return out.getvalue()


def main():
    with pmtest.Daemon(sets=wide_pasv()) as d:
        path = os.path.join(d.root, FILE)
        with open(path, "rb") as fh:
            src = fh.read()
        st = os.stat(path)
        f = connect(d)
        pmtest.check_eq("RETR over PROT P", src, fetch(f, "RETR " + FILE))
        pmtest.check_eq("SIZE", len(src), f.size(FILE))
        mdtm = f.voidcmd("MDTM " + FILE).split()[1]
        pmtest.check_eq("MDTM in UTC", time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime)),
                        mdtm)
        pmtest.check_eq("REST 100 then RETR", src[100:], fetch(f, "RETR " + FILE, rest=100))
        pmtest.check_eq("REST at EOF gives nothing", b"",
                        fetch(f, "RETR " + FILE, rest=len(src)))
        try:
            fetch(f, "RETR " + FILE, rest=len(src) + 1)
            pmtest.check("REST past EOF refused", False)
        except ftplib.error_perm as e:
            pmtest.check("REST past EOF: 554", str(e).startswith("554"), e)

        entries = dict(f.mlsd("pub/hello"))
        names = sorted(n for n in os.listdir(os.path.join(d.root, "pub/hello"))
                       if not n.startswith("."))
        pmtest.check_eq("MLSD names equal the tree", names, sorted(entries))
        e = entries["hello-2.12.tar.gz"]
        pmtest.check_eq("MLSD type", "file", e.get("type"))
        pmtest.check_eq("MLSD size", str(len(src)), e.get("size"))
        pmtest.check_eq("MLSD modify (UTC)", mdtm, e.get("modify"))
        pmtest.check_eq("MLSD perm", "r", e.get("perm"))
        pmtest.check("MLSD unique", bool(e.get("unique")))
        top = dict(f.mlsd("/"))
        pmtest.check_eq("MLSD dir type", "dir", top["pub"].get("type"))
        pmtest.check("dot-files hidden", ".hidden" not in top, sorted(top))

        lines = []
        f.retrlines("LIST -la pub/hello", lines.append)
        line = [x for x in lines if x.endswith(" hello-2.12.tar.gz")]
        pmtest.check("LIST -la: r--r--r-- and exact size",
                     len(line) == 1 and line[0].startswith("-r--r--r--")
                     and (" %d " % len(src)) in line[0], lines)
        pmtest.check_eq("NLST", names, sorted(os.path.basename(x) for x in f.nlst("pub/hello")))

        r = f.sendcmd("HASH " + FILE)
        want = hashlib.sha256(src).hexdigest()
        pmtest.check("HASH SHA-256 equals hashlib",
                     r.startswith("213 SHA-256 0-%d %s " % (len(src) - 1, want)), r)
        f.sendcmd("OPTS HASH SHA-512")
        r = f.sendcmd("HASH " + FILE)
        pmtest.check("HASH SHA-512 equals hashlib",
                     hashlib.sha512(src).hexdigest() in r and r.startswith("213 SHA-512"), r)
        f.sendcmd("OPTS HASH MD5")
        f.sendcmd("REST 10")
        r = f.sendcmd("HASH " + FILE)
        pmtest.check("HASH MD5 with REST 10 (range)",
                     hashlib.md5(src[10:]).hexdigest() in r and
                     (" 10-%d " % (len(src) - 1)) in r, r)
        f.sendcmd("OPTS HASH SHA-1")
        r = f.sendcmd("HASH " + FILE)
        pmtest.check("HASH SHA-1", hashlib.sha1(src).hexdigest() in r, r)

        utf = "pub/docs/Übersicht und Notizen.txt"
        with open(os.path.join(d.root, utf), "rb") as fh:
            pmtest.check_eq("UTF-8 name with spaces", fh.read(), fetch(f, "RETR " + utf))

        f.set_pasv(False)
        pmtest.check_eq("active mode (PORT) over PROT P", src, fetch(f, "RETR " + FILE))
        f.quit()

        # implicit FTPS with ftplib: wrap before the greeting
        ctx = tls_ctx(d)

        class Implicit(ftplib.FTP_TLS):
            def connect(self, host, port, timeout=15):
                self.host, self.port = host, port
                import socket
                self.sock = socket.create_connection((host, port), timeout)
                self.af = self.sock.family
                self.sock = self.context.wrap_socket(self.sock)
                self.file = self.sock.makefile("r", encoding=self.encoding)
                self.welcome = self.getresp()
                return self.welcome

        g = Implicit(context=ctx, timeout=15)
        g.connect("127.0.0.1", d.ftps_port)
        g.login()
        g.prot_p()
        pmtest.check_eq("implicit FTPS with ftplib", src, fetch(g, "RETR " + FILE))
        g.quit()
    pmtest.done()


main()
