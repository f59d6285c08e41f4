"""Built-in ACME against pebble, the daemon started as root and running as
nobody: with acme_directory, acme_domains, acme_email and acme_ca_file set
it obtains a certificate by HTTP-01 on its own HTTP listener and serves it
on HTTPS, implicit FTPS and AUTH TLS; it renews it (acme_renew_max_age
bounds the renewal time, pebble's certificates live for years) and serves
the new one; with the CA stopped the renewal fails, is retried, and the
old certificate keeps being served."""
import os
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
                      "acme_retry": "3"})
        first = None
        d.start()
        pmtest.check("daemon dropped to nobody",
                     d.wait_log("running as user nobody"), d.log_text()[-800:])
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
    finally:
        pebble.close()
        d.cleanup()


main()
pmtest.done()
