"""A symlink never carries an anonymous client into a protected path or to
a hidden file: with auth_paths = /private/, pub/shortcut -> ../private and
pub/report-link.txt -> ../private/docs/report.txt are decided on what they
lead to (HTTPS 401 without credentials, FTP 550, absent from every
listing), while a logged-in user gets them over HTTPS; ls-lR.gz shows
exactly what an anonymous client may list."""
import ftplib
import gzip
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
import seamtree  # noqa: E402
from ftptest import htpasswd  # noqa: E402

LINKS = ("shortcut", "report-link.txt", "dotlink")


def status(d, path, *extra):
    r = d.curl("-o", "-", "-w", "\n%{http_code}", *extra, path=path)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or b"0"), body


def main():
    root = seamtree.make()
    auth = htpasswd("alice", "s3cret-pass")
    sets = {"auth_file": auth, "auth_paths": "/private/"}
    with pmtest.Daemon(sets=sets, tree=root) as d:
        # --- HTTPS, anonymous ---
        for p in ("/pub/report-link.txt", "/pub/shortcut/docs/report.txt", "/pub/shortcut/",
                  "/private/docs/report.txt"):
            code, body = status(d, p)
            pmtest.check("https anonymous %s: 401, no data" % p,
                         code == 401 and seamtree.SECRET not in body, (code, body[:80]))
        code, body = status(d, "/pub/dotlink")
        pmtest.check("https: a link to a hidden file is 404", code == 404 and
                     seamtree.HIDDEN not in body, (code, body[:80]))
        code, body = status(d, "/pub/report-link.txt", "-I")
        pmtest.check("https anonymous HEAD through a link: 401", code == 401, code)
        code, page = status(d, "/pub/")
        pmtest.check("https anonymous listing hides the links",
                     code == 200 and not any(n.encode() in page for n in LINKS)
                     and b"releases" in page, page[-400:])
        code, js = status(d, "/pub/?format=json")
        names = [e["name"] for e in json.loads(js)] if code == 200 else []
        pmtest.check("https anonymous JSON listing hides the links",
                     code == 200 and not set(LINKS) & set(names) and "releases" in names, names)
        # --- HTTPS, alice ---
        code, body = status(d, "/pub/report-link.txt", "-u", "alice:s3cret-pass")
        pmtest.check("https alice gets the file through the link",
                     code == 200 and body == seamtree.SECRET, (code, body[:80]))
        code, page = status(d, "/pub/", "-u", "alice:s3cret-pass")
        pmtest.check("https alice's listing shows the links to protected paths",
                     code == 200 and b"shortcut" in page and b"report-link.txt" in page
                     and b"dotlink" not in page, page[-400:])

        # --- FTP, anonymous (ftplib) ---
        f = ftplib.FTP()
        f.connect("127.0.0.1", d.ftp_port, timeout=30)
        f.login()
        nl = f.nlst("pub")
        pmtest.check("ftp NLST hides the links",
                     not any(n.endswith(LINKS) for n in nl) and any("releases" in n for n in nl),
                     nl)
        lines = []
        f.retrlines("LIST pub", lines.append)
        pmtest.check("ftp LIST hides the links",
                     not any(n in " ".join(lines) for n in LINKS), lines)
        mlsd = [n for n, _ in f.mlsd("pub")]
        pmtest.check("ftp MLSD hides the links", not set(LINKS) & set(mlsd), mlsd)
        for cmd in ("RETR pub/report-link.txt", "RETR pub/shortcut/docs/report.txt",
                    "RETR pub/dotlink"):
            got = io.BytesIO()
            try:
                r = f.retrbinary(cmd, got.write)
            except ftplib.error_perm as e:
                r = str(e)
            pmtest.check("ftp anonymous %s: 550, no data" % cmd,
                         r.startswith("550") and got.getvalue() == b"", (r, got.getvalue()[:40]))
        for cmd in ("SIZE pub/report-link.txt", "MDTM pub/report-link.txt",
                    "CWD pub/shortcut", "MLST pub/shortcut/docs/report.txt"):
            try:
                r = f.sendcmd(cmd)
            except ftplib.error_perm as e:
                r = str(e)
            pmtest.check("ftp anonymous %s: 550" % cmd, r.startswith("550"), r)

        # --- ls-lR.gz: exactly what anonymous may list ---
        code, gz = status(d, "/ls-lR.gz")
        text = gzip.decompress(gz).decode("utf-8", "replace") if code == 200 else ""
        for bad in ("private", "report", "shortcut", "dotlink", ".secret"):
            pmtest.check("ls-lR.gz does not name %s" % bad, text != "" and bad not in text,
                         text)
        pmtest.check("ls-lR.gz lists the public tree",
                     "./pub/releases/1.0:" in text and "tool-1.0.tar.gz" in text, text)
        got = io.BytesIO()
        f.retrbinary("RETR ls-lR.gz", got.write)
        pmtest.check("ftp ls-lR.gz is the same file", got.getvalue() == gz)
        f.quit()
    pmtest.done()


main()
