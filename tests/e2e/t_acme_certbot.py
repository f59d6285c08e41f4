"""certbot against pebble through the daemon's plain HTTP listener
(acme_webroot, http_mode redirect), the daemon started as root and running
as nobody: `certbot certonly --webroot` succeeds; after SIGHUP the daemon
serves certbot's certificate (live/ and archive/ 0700 root, key 0600 root)
on HTTPS, implicit FTPS and AUTH TLS; `certbot renew --force-renewal
--deploy-hook 'kill -HUP PID'` swaps it on all three while an HTTPS and an
FTPS download in flight finish byte-exact."""
import os
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import acmetest  # noqa: E402
import pmtest  # noqa: E402

SIZE = 32 << 20
RATE = 2 << 20  # client-side bytes/s: the transfers outlast the renewal
NAME = "pub/inflight.bin"


def certbot(le, pebble, *args):
    env = dict(os.environ, REQUESTS_CA_BUNDLE=pebble.cert)
    argv = ["certbot", "--config-dir", os.path.join(le, "conf"),
            "--work-dir", os.path.join(le, "work"), "--logs-dir", os.path.join(le, "logs"),
            "--server", pebble.directory, "--non-interactive", "--agree-tos",
            "-m", "ops@example.org", "--no-eff-email"] + list(args)
    return subprocess.run(argv, capture_output=True, env=env, timeout=300)


def ftps_get(d, st):
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        f = ftplib.FTP_TLS(context=ctx, timeout=60)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "certbot@example.org")
        f.prot_p()
        t0 = time.time()

        def feed(b):
            st.feed(b)
            ahead = st.bytes / RATE - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
        f.retrbinary("RETR " + NAME, feed, blocksize=1 << 16)
        f.quit()
    except Exception as e:  # reported by the main thread
        st.error = repr(e)
    st.done = True


def https_get(d, st):
    """curl without pinning: the certificate changes under it."""
    try:
        p = subprocess.Popen(["curl", "-sSk", "--max-time", "250", "--limit-rate", str(RATE), d.url("/" + NAME)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        while True:
            b = p.stdout.read(1 << 16)
            if not b:
                break
            st.feed(b)
        if p.wait() != 0:
            st.error = "curl exited with %d" % p.returncode
    except Exception as e:  # reported by the main thread
        st.error = repr(e)
    st.done = True


def step(what):
    print("# %s %s" % (time.strftime("%H:%M:%S"), what), flush=True)


def main():
    if os.geteuid() != 0:
        pmtest.check("runs as root (the privilege drop to nobody is the point)", False,
                     "run this test as root")
        return
    if not acmetest.need("pebble", "pebble-challtestsrv", "certbot", "openssl", "curl"):
        return
    d = pmtest.Daemon(start=False, http=True)
    pebble = None
    try:
        webroot = os.path.join(d.tmp, "webroot")
        os.mkdir(webroot, 0o755)
        le = os.path.join(d.tmp, "le")
        d.write_conf({"acme_webroot": webroot, "user": "nobody"})
        want = None
        with open(os.path.join(d.root, NAME), "wb") as f:
            f.write(os.urandom(SIZE))
        want = pmtest.file_sha256(os.path.join(d.root, NAME))
        d.start()
        pmtest.check("daemon dropped to nobody",
                     d.wait_log("running as user nobody"), d.log_text()[-800:])
        pebble = acmetest.Pebble(d.tmp, d.http_port, nonce_reject=0)
        pebble.start()

        step("certbot certonly")
        r = certbot(le, pebble, "certonly", "--webroot", "-w", webroot,
                    "-d", acmetest.DOMAIN)
        pmtest.check("certbot certonly --webroot through the daemon succeeds",
                     r.returncode == 0, (r.stdout + r.stderr).decode()[-1500:])
        live = os.path.join(le, "conf", "live", acmetest.DOMAIN)
        cert1 = os.path.join(live, "cert.pem")
        if not os.path.exists(cert1):
            return
        st = os.stat(os.path.join(le, "conf", "archive"))
        pmtest.check("certbot's archive/ is 0700 root",
                     st.st_mode & 0o777 == 0o700 and st.st_uid == 0, oct(st.st_mode))
        kst = os.stat(os.path.realpath(os.path.join(live, "privkey.pem")))
        pmtest.check("certbot's key is 0600 root",
                     kst.st_mode & 0o777 == 0o600 and kst.st_uid == 0, oct(kst.st_mode))

        d.write_conf({"acme_webroot": webroot, "user": "nobody",
                      "tls_cert": os.path.join(live, "fullchain.pem"),
                      "tls_key": os.path.join(live, "privkey.pem")})
        d.reload()
        der1 = acmetest.pem_der(cert1)
        pmtest.check("after SIGHUP certbot's certificate is served on HTTPS, FTPS, AUTH TLS",
                     acmetest.wait_served(d, der1), d.log_text()[-1500:])

        # Two downloads in flight, then the renewal with its deploy hook.
        a, b = pmtest.Fetch(), pmtest.Fetch()
        ta = threading.Thread(target=ftps_get, args=(d, a), daemon=True)
        tb = threading.Thread(target=https_get, args=(d, b), daemon=True)
        ta.start()
        tb.start()
        end = time.time() + 30
        while time.time() < end and (a.bytes < (4 << 20) or b.bytes < (4 << 20)):
            time.sleep(0.05)
        pmtest.check("both transfers under way before the renewal",
                     a.bytes > 0 and b.bytes > 0 and not a.done and not b.done,
                     "ftps %d, https %d" % (a.bytes, b.bytes))
        step("certbot renew")
        r = certbot(le, pebble, "renew", "--force-renewal", "--no-random-sleep-on-renew",
                    "--deploy-hook", "kill -HUP %d" % d.pid)
        pmtest.check("certbot renew --force-renewal succeeds", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-1500:])
        der2 = acmetest.pem_der(os.path.join(live, "cert.pem"))
        pmtest.check("the renewal is a new certificate", der2 != der1)
        pmtest.check("the deploy hook's SIGHUP swaps it on HTTPS, FTPS and AUTH TLS",
                     acmetest.wait_served(d, der2), d.log_text()[-1500:])
        step("waiting for the transfers")
        ta.join(250)
        tb.join(250)
        pmtest.check("FTPS transfer in flight finished byte-exact",
                     a.error is None and a.bytes == SIZE and a.sha.hexdigest() == want,
                     "%s %d" % (a.error, a.bytes))
        pmtest.check("HTTPS transfer in flight finished byte-exact",
                     b.error is None and b.bytes == SIZE and b.sha.hexdigest() == want,
                     "%s %d" % (b.error, b.bytes))
        pmtest.check("no reload failure logged",
                     "reload failed" not in d.log_text(), d.log_text()[-1500:])
    finally:
        if pebble is not None:
            pebble.close()
        d.cleanup()


main()
pmtest.done()
