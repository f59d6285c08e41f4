"""auth_file users on FTP: only over TLS (USER on a plain connection is 530
"use AUTH TLS"), then they see auth_paths; failed logins count toward the
limiter's ban, which then answers 421 at the greeting."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, htpasswd  # noqa: E402

SECRET = "/pub/releases/1.0/sample-1.0.tar.gz"


def main():
    auth = htpasswd("alice", "s3cret-pass")
    sets = {"auth_file": auth, "auth_paths": "/pub/releases", "ban_after": "3"}
    with pmtest.Daemon(sets=sets) as d:
        with open(os.path.join(d.root, SECRET[1:]), "rb") as f:
            secret = f.read()
        r = Raw(d.ftp_port)
        c, t = r.cmd("USER alice")
        pmtest.check("plain: USER alice is 530 and says to use AUTH TLS",
                     c == 530 and "AUTH TLS" in t, t)
        c, t = r.cmd("PASS s3cret-pass")
        pmtest.check("plain: PASS is refused", c in (503, 530), t)
        pmtest.check("the password is never echoed", "s3cret" not in t)
        r.close()

        r = Raw(d.ftp_port)
        r.auth_tls()
        r.code("USER alice")
        pmtest.check_eq("TLS: right password: 230", 230, r.code("PASS s3cret-pass"))
        r.code("PBSZ 0")
        r.code("PROT P")
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("NLST /pub", tls=True)
        pmtest.check("the user sees auth_paths", b"/pub/releases" in data, data)
        c1, data, c2 = r.retr_bytes("RETR " + SECRET, tls=True)
        pmtest.check("the user downloads under auth_paths", data == secret and c2 == 226,
                     (c1, c2))
        r.code("QUIT")
        r.close()

        work = tempfile.mkdtemp(prefix="pm-lftp-auth-")
        script = """set ssl:verify-certificate no
set ftp:ssl-force true
set ftp:ssl-protect-data true
get %s
exit
""" % SECRET
        rc = subprocess.run(["lftp", "-u", "alice,s3cret-pass", "ftp://127.0.0.1:%d" % d.ftp_port],
                            input=script.encode(), capture_output=True, timeout=90, cwd=work)
        got = os.path.join(work, os.path.basename(SECRET))
        pmtest.check("lftp as the user over TLS downloads a protected file",
                     os.path.exists(got) and open(got, "rb").read() == secret,
                     rc.stderr.decode("utf-8", "replace")[-300:])

        # anonymous still does not see it
        r = Raw(d.ftp_port)
        r.login()
        pmtest.check_eq("anonymous: protected file is 550", 550, r.code("SIZE " + SECRET))
        r.close()

        # failed logins ban the address
        r = Raw(d.ftp_port)
        r.auth_tls()
        codes = []
        for i in range(3):
            r.code("USER alice")
            codes.append(r.code("PASS wrong-%d" % i))
        pmtest.check("failed logins: 530 530 then 421 (banned)", codes == [530, 530, 421], codes)
        r.close()
        x = Raw(d.ftp_port)
        pmtest.check("banned address: 421 at the greeting",
                     x.greeting[0] == 421 and "banned" in x.greeting[1], x.greeting)
        x.close()
        with open(d.xfer_log) as f:
            xl = f.read()
        pmtest.check("xferlog names the user (r)", " r alice ftp 0 * c" in xl, xl[-300:])
    pmtest.done()


main()
