"""ls-lR.gz at the root, as classic FTP mirrors provide: served over HTTPS
and FTP, gunzips to an `ls -lR` whose names and sizes equal the tree,
listed at the root (HTTPS JSON, FTP MLSD) with its exact size, rebuilt
after a change in the tree, never written into the tree; a real
ls-lR.gz in the tree wins over the generated one."""
import gzip
import io
import json
import os
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

LINE = re.compile(r"^([d-])[rwx-]{9}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\w{3}\s+\d+\s+[\d:]+\s(.+)$")


def parse_lslr(text):
    """{dir: {name: size or None for directories}}"""
    out, cur = {}, None
    for line in text.split("\n"):
        if line.endswith(":") and (line == ".:" or line.startswith("./")):
            cur = "" if line == ".:" else line[2:-1]
            out[cur] = {}
        elif line.startswith("total ") or line == "":
            continue
        else:
            m = LINE.match(line)
            if m is None or cur is None:
                out.setdefault("?bad", {})[line] = 0
                continue
            out[cur][m.group(3)] = None if m.group(1) == "d" else int(m.group(2))
    return out


def disk(root):
    out = {}
    for top, dn, fn in os.walk(root):
        dn[:] = sorted(n for n in dn if not n.startswith("."))
        rel = os.path.relpath(top, root)
        rel = "" if rel == "." else rel
        ent = {n: None for n in dn}
        for n in fn:
            if not n.startswith("."):
                ent[n] = os.path.getsize(os.path.join(top, n))
        out[rel] = ent
    return out


def ftp_conn(d):
    f = ftplib.FTP(timeout=15)
    f.connect("127.0.0.1", d.ftp_port)
    f.login("anonymous", "lslr@example.org")
    return f


def ftp_get(f, name):
    buf = io.BytesIO()
    f.retrbinary("RETR " + name, buf.write)
    return buf.getvalue()


def main():
    with pmtest.Daemon() as d:
        before = sorted(os.listdir(d.root))
        r = d.curl("-D", "-", path="/ls-lR.gz")
        head, _, gz = r.stdout.partition(b"\r\n\r\n")
        pmtest.check("HTTPS GET /ls-lR.gz: 200", head.startswith(b"HTTP/1.1 200"), head[:200])
        try:
            text = gzip.decompress(gz).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as e:
            text = ""
            pmtest.check("ls-lR.gz is valid gzip", False, repr(e))
        pmtest.check("starts like ls -lR", text.startswith(".:\ntotal "), text[:100])
        got = parse_lslr(text)
        pmtest.check("every line parses", "?bad" not in got, list(got.get("?bad", {}))[:3])
        want = disk(d.root)
        pmtest.check_eq("ls-lR names and sizes equal the tree", want, got)

        try:
            f = ftp_conn(d)
            fgz = ftp_get(f, "ls-lR.gz")
            pmtest.check_eq("FTP RETR ls-lR.gz gives the same text",
                            text, gzip.decompress(fgz).decode("utf-8") if fgz else "")
            pmtest.check_eq("FTP SIZE ls-lR.gz", len(fgz), f.size("ls-lR.gz"))
            mdtm = f.voidcmd("MDTM ls-lR.gz")
            pmtest.check("FTP MDTM ls-lR.gz", mdtm.startswith("213 "), mdtm)
            facts = dict(f.mlsd("/", ["type", "size"]))
            pmtest.check("FTP MLSD lists ls-lR.gz at the root with its size",
                         "ls-lR.gz" in facts and facts["ls-lR.gz"].get("size") == str(len(fgz)),
                         facts.get("ls-lR.gz"))
            pmtest.check("FTP NLST of the root names it", "ls-lR.gz" in f.nlst())
            try:
                ftp_get(f, "pub/ls-lR.gz")
                pmtest.check("only at the root", False)
            except ftplib.error_perm as e:
                pmtest.check("only at the root (550 elsewhere)", str(e).startswith("550"), e)
            f.quit()
        except (ftplib.Error, OSError, EOFError) as e:
            pmtest.check("FTP serves ls-lR.gz at the root", False, repr(e))
        r = d.curl(path="/?format=json")
        try:
            listing = {e["name"]: e for e in json.loads(r.stdout)}
        except ValueError:
            listing = {}
        pmtest.check("HTTPS root listing has ls-lR.gz with its size",
                     listing.get("ls-lR.gz", {}).get("size") == len(gz), listing.get("ls-lR.gz"))
        r = d.curl("-I", path="/ls-lR.gz")
        pmtest.check("HEAD gives its length",
                     ("content-length: %d" % len(gz)).encode() in r.stdout.lower(), r.stdout)

        # A change in the tree: the next ls-lR.gz has it.
        os.makedirs(os.path.join(d.root, "pub", "fresh dir"))
        with open(os.path.join(d.root, "pub", "fresh dir", "new file.txt"), "wb") as fh:
            fh.write(b"x" * 1234)
        end, ok = time.time() + 8, False
        while time.time() < end and not ok:
            time.sleep(0.2)
            r = d.curl(path="/ls-lR.gz")
            try:
                t2 = gzip.decompress(r.stdout).decode()
            except (OSError, EOFError):
                continue
            ok = parse_lslr(t2) == disk(d.root)
        pmtest.check("after a change ls-lR.gz equals the new tree", ok)
        pmtest.check_eq("nothing was written into the tree", before, sorted(os.listdir(d.root)))

        # The tree's own ls-lR.gz wins.
        own = gzip.compress(b"the operator's own listing\n")
        with open(os.path.join(d.root, "ls-lR.gz"), "wb") as fh:
            fh.write(own)
        end, got_own = time.time() + 8, b""
        while time.time() < end and got_own != own:
            time.sleep(0.2)
            got_own = d.curl(path="/ls-lR.gz").stdout
        pmtest.check("a real ls-lR.gz in the tree is served instead", got_own == own)
        try:
            f = ftp_conn(d)
            pmtest.check("FTP serves the real one too", ftp_get(f, "ls-lR.gz") == own)
            f.quit()
        except (ftplib.Error, OSError, EOFError) as e:
            pmtest.check("FTP serves the real one too", False, repr(e))
    pmtest.done()


if __name__ == "__main__":
    main()
