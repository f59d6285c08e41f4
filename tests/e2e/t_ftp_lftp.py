"""The FTPS session the tutorials teach, typed as a user would, with lftp:
certificate verification off, then the certificate pinned; ls, get,
get -o, put refused with 550 and nothing written, exit.  Then active mode
(PORT) with a protected data channel."""
import filecmp
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import wide_pasv  # noqa: E402


def lftp(port, script, cwd):
    argv = ["lftp", "-u", "anonymous,you@example.org", "ftp://127.0.0.1:%d" % port]
    r = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=90,
                       cwd=cwd)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def session(d, label, settings, extra_check=True):
    work = tempfile.mkdtemp(prefix="pm-lftp-")
    upload = os.path.join(work, "upload.txt")
    with open(upload, "w") as f:
        f.write("must never land on the server\n")
    script = settings + """
set net:max-retries 1
set net:timeout 15
ls pub/hello
get pub/hello/hello-2.12.tar.gz
get pub/misc/speedtest-256K.bin -o renamed.bin
put upload.txt
exit
"""
    rc, out, err = lftp(d.ftp_port, script, work)
    pmtest.check("%s: ls shows the files" % label,
                 "hello-2.12.tar.gz" in out and "-r--r--r--" in out, out + err)
    got = os.path.join(work, "hello-2.12.tar.gz")
    pmtest.check("%s: get gives the same bytes" % label,
                 os.path.exists(got) and filecmp.cmp(
                     got, os.path.join(d.root, "pub/hello/hello-2.12.tar.gz"), shallow=False),
                 err)
    got = os.path.join(work, "renamed.bin")
    pmtest.check("%s: get -o to another name" % label,
                 os.path.exists(got) and filecmp.cmp(
                     got, os.path.join(d.root, "pub/misc/speedtest-256K.bin"), shallow=False),
                 err)
    pmtest.check("%s: put refused with 550" % label, "550" in err, err)
    pmtest.check("%s: nothing written under the root" % label,
                 not os.path.exists(os.path.join(d.root, "upload.txt")))
    return err


def main():
    with pmtest.Daemon(sets=wide_pasv()) as d:
        base = """set ssl:verify-certificate no
set ftp:ssl-force true
set ftp:ssl-protect-data true
set ftp:passive-mode true
"""
        session(d, "FTPS, verification off", base)
        pinned = """set ssl:ca-file %s
set ftp:ssl-force true
set ftp:ssl-protect-data true
set ftp:passive-mode true
""" % d.cert
        session(d, "FTPS, certificate pinned", pinned)
        active = """set ssl:verify-certificate no
set ftp:ssl-force true
set ftp:ssl-protect-data true
set ftp:passive-mode false
set ftp:port-range 40000-60000
debug 9
"""
        err = session(d, "FTPS, active mode", active)
        pmtest.check("active mode used PORT/EPRT",
                     "---> EPRT" in err or "---> PORT" in err, err[-800:])
        plain = """set ftp:ssl-allow false
set ftp:passive-mode true
"""
        session(d, "plain FTP", plain)
        with open(d.xfer_log) as f:
            xl = f.read()
        pmtest.check("xferlog has a line per download",
                     xl.count("hello-2.12.tar.gz") >= 4, xl[-500:])
        pmtest.check("xferlog: anonymous id as xferlog records it",
                     " a you@example.org ftp 0 * c" in xl, xl[-300:])
    pmtest.done()


main()
