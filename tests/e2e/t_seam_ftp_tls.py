"""With ftp_tls = allow: a named USER over a clear control connection is
530 with a reason (the password would follow in clear; anonymous still
logs in), and a file or listing under auth_paths travels only over a
protected data channel: PROT C then RETR of a protected file (directly or
through a symlink) is refused with 521 and a reason, a clear listing names
no protected entry, PROT P serves them."""
import ftplib
import io
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
import seamtree  # noqa: E402
from ftptest import htpasswd, tls_ctx  # noqa: E402


def retr(f, cmd):
    got = io.BytesIO()
    try:
        r = f.retrbinary(cmd, got.write)
    except ftplib.error_perm as e:
        r = str(e)
    return r, got.getvalue()


def main():
    root = seamtree.make()
    auth = htpasswd("alice", "s3cret-pass")
    sets = {"auth_file": auth, "auth_paths": "/private/", "ftp_tls": "allow"}
    with pmtest.Daemon(sets=sets, tree=root) as d:
        # --- a named login over a clear control connection ---
        f = ftplib.FTP()
        f.connect("127.0.0.1", d.ftp_port, timeout=30)
        try:
            r = f.sendcmd("USER alice")
        except ftplib.error_perm as e:
            r = str(e)
        pmtest.check("clear USER alice: 530 naming AUTH TLS",
                     r.startswith("530") and "AUTH TLS" in r, r)
        try:
            r = f.sendcmd("USER nosuchuser")
        except ftplib.error_perm as e:
            r = str(e)
        pmtest.check("clear USER of an unknown name: the same 530",
                     r.startswith("530") and "AUTH TLS" in r, r)
        f.close()
        f = ftplib.FTP()
        f.connect("127.0.0.1", d.ftp_port, timeout=30)
        pmtest.check("clear anonymous login still works", f.login().startswith("230"))
        f.quit()

        # --- alice over TLS, data channel in clear ---
        f = ftplib.FTP_TLS(context=tls_ctx(d))
        f.connect("127.0.0.1", d.ftp_port, timeout=30)
        f.auth()
        pmtest.check("TLS USER alice: 331", f.sendcmd("USER alice").startswith("331"))
        pmtest.check("TLS PASS: 230", f.sendcmd("PASS s3cret-pass").startswith("230"))
        f.sendcmd("PBSZ 0")
        f.prot_c()
        for cmd in ("RETR private/docs/report.txt", "RETR pub/report-link.txt"):
            r, data = retr(f, cmd)
            pmtest.check("PROT C %s: 521 with a reason, no data" % cmd,
                         r.startswith("521") and "protected" in r and data == b"", (r, data[:40]))
        try:
            lines = []
            r = f.retrlines("LIST private/docs", lines.append)
        except ftplib.error_perm as e:
            r = str(e)
        pmtest.check("PROT C listing of a protected directory: 521", r.startswith("521"), r)
        nl = f.nlst("pub")
        pmtest.check("PROT C listing names no protected link",
                     not any(n.endswith(("shortcut", "report-link.txt")) for n in nl)
                     and any(n.endswith("releases") for n in nl), nl)
        r, data = retr(f, "RETR pub/releases/1.0/tool-1.0.tar.gz")
        pmtest.check("PROT C public file still served in clear (ftp_tls = allow)",
                     r.startswith("226") and data == seamtree.PUBLIC, (r, data[:40]))
        f.prot_p()
        nl = f.nlst("pub")
        pmtest.check("PROT P listing shows alice the protected links",
                     any(n.endswith("report-link.txt") for n in nl), nl)
        r, data = retr(f, "RETR pub/report-link.txt")
        pmtest.check("PROT P: the protected file is served",
                     r.startswith("226") and data == seamtree.SECRET, (r, data[:40]))
        f.quit()
    pmtest.done()


main()
