"""Built-in ACME against pebble, the daemon started as root and running as
nobody: with acme_directory, acme_domains, acme_email and acme_ca_file set
it obtains a certificate by HTTP-01 on its own HTTP listener and serves it
on HTTPS, implicit FTPS and AUTH TLS; it renews it (acme_renew_max_age
bounds the renewal time, pebble's certificates live for years) and serves
the new one; with the CA stopped the renewal fails, is retried, and the
old certificate keeps being served.

The ACME client runs in the privileged helper: uid 0 but no capability
except CAP_DAC_READ_SEARCH (CapEff, CapPrm, CapBnd), NoNewPrivs, a seccomp filter
(/proc/PID/status).  It writes to the same error log as the daemon: after
a logrotate-style rename, "create" and SIGUSR1 its lines go to the new
file and none to the rotated one."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmetest  # noqa: E402
import pmtest  # noqa: E402

RENEW = 20  # acme_renew_max_age, seconds


def installs(d):
    return d.log_text().count("acme: new certificate installed")


def wait_installs(d, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if installs(d) >= n:
            return True
        time.sleep(0.2)
    return False


def helper_pid(d):
    """The privileged helper: the daemon's one child process."""
    kids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == d.pid:
            kids.append(int(e))
    return kids[0] if len(kids) == 1 else None


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def rotate(d):
    """What logrotate does with "create": rename, a new file with the old
    one's owner and mode, then SIGUSR1."""
    old = d.log + ".1"
    os.rename(d.log, old)
    st = os.stat(old)
    fd = os.open(d.log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o777)
    os.fchown(fd, st.st_uid, st.st_gid)
    os.close(fd)
    os.kill(d.pid, signal.SIGUSR1)
    return old


def current(d):
    return acmetest.served_cert("https", d.https_port)


def main():
    if os.geteuid() != 0:
        pmtest.check("runs as root (the privilege drop to nobody is the point)", False,
                     "run this test as root")
        return
    if not acmetest.need("pebble", "pebble-challtestsrv", "openssl"):
        return
    d = pmtest.Daemon(start=False, http=True)
    pebble = acmetest.Pebble(d.tmp, d.http_port)
    try:
        pebble.start()
        names = acmetest.DOMAIN + ",www." + acmetest.DOMAIN
        d.write_conf({"user": "nobody", "acme_directory": pebble.directory,
                      "acme_domains": names, "acme_email": "ops@example.org",
                      "acme_ca_file": pebble.cert, "acme_renew_max_age": str(RENEW),
                      "acme_retry": "3", "error_log": d.log})
        first = None
        d.start()
        pmtest.check("daemon dropped to nobody",
                     d.wait_log("running as user nobody"), d.log_text()[-800:])
        hp = helper_pid(d)
        pmtest.check("one helper process", hp is not None)
        if hp is not None:
            st = status(hp)
            only = 1 << 2  # CAP_DAC_READ_SEARCH: reading keys of any owner
            pmtest.check("the helper is uid 0 with no capability but CAP_DAC_READ_SEARCH",
                         st.get("Uid", "").split()[:2] == ["0", "0"] and
                         int(st.get("CapEff", "ff"), 16) & ~only == 0 and
                         int(st.get("CapPrm", "ff"), 16) & ~only == 0 and
                         int(st.get("CapInh", "ff"), 16) == 0 and
                         int(st.get("CapBnd", "ff"), 16) & ~only == 0, st)
            pmtest.check("the helper has NoNewPrivs and a seccomp filter",
                         st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2", st)
        first = current(d)
        pmtest.check("issued by HTTP-01 on the daemon's HTTP port",
                     wait_installs(d, 1, 90), d.log_text()[-1500:] + pebble.log_text()[-1500:])
        leaf = os.path.join(d.state, "acme", "cert.pem")
        if not os.path.exists(leaf):
            return
        der1 = acmetest.pem_der(leaf)
        pmtest.check("the generated certificate is replaced", der1 != first)
        pmtest.check("the ACME certificate is served on HTTPS, FTPS and AUTH TLS",
                     acmetest.wait_served(d, der1), d.log_text()[-1500:])
        text = acmetest.cert_text(der1)
        pmtest.check("it names both domains",
                     "DNS:" + acmetest.DOMAIN in text and "DNS:www." + acmetest.DOMAIN in text,
                     text)
        ks = os.stat(os.path.join(d.state, "acme", "key.pem"))
        pmtest.check("its key is 0600 root in a 0700 root state_dir",
                     ks.st_mode & 0o777 == 0o600 and ks.st_uid == 0 and
                     os.stat(d.state).st_mode & 0o777 == 0o700, oct(ks.st_mode))

        pmtest.check("renewed at acme_renew_max_age",
                     wait_installs(d, 2, RENEW + 90), d.log_text()[-1500:])
        der2 = acmetest.pem_der(leaf)
        pmtest.check("the renewal is a new certificate", der2 != der1)
        pmtest.check("the renewed certificate is served on HTTPS, FTPS and AUTH TLS",
                     acmetest.wait_served(d, der2), d.log_text()[-1500:])

        # The CA goes down: the next renewal fails and the old one stays.
        pebble.stop_ca()
        end = time.time() + RENEW + 60
        while time.time() < end and d.log_text().count("the certificate in force stays") < 2:
            time.sleep(0.5)
        pmtest.check("with the CA down the renewal fails, is logged and retried",
                     d.log_text().count("the certificate in force stays") >= 2,
                     d.log_text()[-1500:])
        pmtest.check("the old certificate is still served on HTTPS, FTPS and AUTH TLS",
                     acmetest.wait_served(d, der2, 10))
        r = d.curl("-k", "-o", "/dev/null", "-w", "%{http_code}", path="/")
        pmtest.check("and the mirror still serves", r.stdout == b"200", r.stdout)
        pmtest.check("daemon still running", d.proc.poll() is None)

        # Rotation: the helper's lines (the failing renewals, every
        # acme_retry seconds) follow the daemon's SIGUSR1 to the new file.
        old = rotate(d)
        pmtest.check("USR1 reopened the logs", d.wait_log("log files reopened", 15),
                     d.log_text()[-800:])
        pmtest.check("the helper's lines go to the new error log",
                     d.wait_log("the certificate in force stays", 30), d.log_text()[-800:])
        pmtest.check("no reopen failure reported",
                     "keeps the old error log" not in d.log_text(), d.log_text()[-800:])
        size = os.path.getsize(old)
        time.sleep(7)  # two more attempts at acme_retry = 3 s
        with open(old, "rb") as f:
            tail = f.read()[size:]
        pmtest.check("nothing more in the rotated error log", tail == b"", tail[-400:])
        pmtest.check("and the new one keeps growing",
                     d.log_text().count("the certificate in force stays") >= 2,
                     d.log_text()[-800:])
    finally:
        pebble.close()
        d.cleanup()


main()
pmtest.done()
