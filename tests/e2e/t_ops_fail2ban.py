"""The shipped fail2ban filter (conf/fail2ban/filter.d/pubmirrord.conf)
matches the daemon's own failed-login lines, over HTTPS Basic auth and
FTPS, and nothing else of its log; fail2ban-client accepts the shipped
jail with it.  Needs fail2ban (Debian package fail2ban)."""
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt

FILTER = os.path.join(pmtest.TOP, "conf", "fail2ban", "filter.d", "pubmirrord.conf")
JAIL = os.path.join(pmtest.TOP, "conf", "fail2ban", "jail.d", "pubmirrord.conf")


def main():
    have = shutil.which("fail2ban-regex") and shutil.which("fail2ban-client")
    pmtest.check("fail2ban-regex and fail2ban-client installed (apt-get install fail2ban)",
                 have)
    if not have:
        pmtest.done()
    d = pmtest.Daemon(start=False, sets={"ban_after": "0"})
    try:
        af = os.path.join(d.tmp, "htpasswd")
        with open(af, "w") as f:
            f.write("alice:%s\n" % crypt.crypt("right", crypt.mksalt(crypt.METHOD_SHA512)))
        os.makedirs(os.path.join(d.root, "private"))
        with open(os.path.join(d.root, "private", "f.txt"), "w") as f:
            f.write("secret\n")
        os.chmod(d.tmp, 0o755)
        os.chmod(af, 0o644)
        d.sets["auth_file"] = af
        d.sets["auth_paths"] = "/private"
        d.write_conf()
        d.start()

        # Failures: HTTPS Basic auth twice, FTPS login once; one success.
        for pw in ("wrong1", "wrong2"):
            r = d.curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:" + pw,
                       path="/private/f.txt")
            pmtest.check_eq("HTTPS wrong password: 401", b"401", r.stdout)
        r = d.curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:right",
                   path="/private/f.txt")
        pmtest.check_eq("HTTPS right password: 200", b"200", r.stdout)
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.auth()
        try:
            f.login("alice", "wrong3")
            pmtest.check("FTPS wrong password refused", False)
        except ftplib.error_perm as e:
            pmtest.check("FTPS wrong password refused: 530", str(e).startswith("530"), e)
        f.close()

        end = time.time() + 10
        while time.time() < end and d.log_text().count("auth: failure from") < 3:
            time.sleep(0.05)
        lines = [l for l in d.log_text().splitlines() if "auth: failure from" in l]
        pmtest.check_eq("three failure lines in the error log", 3, len(lines))
        pmtest.check("lines name both protocols",
                     any("proto=https" in l for l in lines) and
                     any("proto=ftps" in l for l in lines), lines)
        pmtest.check("no password in the log", "wrong1" not in d.log_text() and
                     "right" not in "".join(lines), lines)

        r = subprocess.run(["fail2ban-regex", "--print-all-matched", d.log, FILTER],
                           capture_output=True, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        pmtest.check("fail2ban-regex ran", r.returncode == 0, r.stderr.decode()[-500:])
        m = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out)
        pmtest.check("fail2ban-regex summary", m is not None, out[-800:])
        if m:
            pmtest.check_eq("exactly the failure lines matched", len(lines), int(m.group(3)))
            pmtest.check("other lines missed", int(m.group(4)) > 0)
        pmtest.check("matched address is the client's", "127.0.0.1" in out.split("Lines:")[0]
                     or "127.0.0.1" in out, out[-800:])

        # The jail, as installed next to a copy of the system's fail2ban.
        conf = os.path.join(d.tmp, "fail2ban")
        shutil.copytree("/etc/fail2ban", conf)
        shutil.copy(FILTER, os.path.join(conf, "filter.d", "pubmirrord.conf"))
        with open(JAIL) as fj:
            jail = fj.read().replace("/var/log/pubmirror/error.log", d.log)
        for name in os.listdir(os.path.join(conf, "jail.d")):
            os.unlink(os.path.join(conf, "jail.d", name))
        with open(os.path.join(conf, "jail.d", "pubmirrord.conf"), "w") as fj:
            fj.write(jail)
        r = subprocess.run(["fail2ban-client", "-c", conf, "-t"], capture_output=True,
                           timeout=60)
        pmtest.check("fail2ban-client accepts the jail and filter", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-800:])
    finally:
        d.cleanup()
    pmtest.done()


if __name__ == "__main__":
    main()
