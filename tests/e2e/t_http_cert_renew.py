"""The generated self-signed certificate is valid 397 days (what browsers
accept and TLS scanners do not flag), and a generated pair within 30 days
of its end is replaced when the daemon starts, the new fingerprint in the
log; a certificate the configuration names is never replaced.  While the
daemon runs (as root, dropped to the service user, state_dir 0700 root),
the privileged helper renews a generated pair that is due - here at
tls_generated_max_age - and the new one is served on HTTPS and implicit
FTPS without a restart."""
import hashlib
import os
import re
import ssl
import subprocess
import time
import pmtest


def served(d):
    pem = ssl.get_server_certificate(("127.0.0.1", d.https_port))
    der = ssl.PEM_cert_to_DER_cert(pem)
    return pem, hashlib.sha256(der).hexdigest()


def validity_days(pem):
    p = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-enddate"], input=pem.encode(),
                       capture_output=True, check=True).stdout.decode()
    nb = re.search(r"notBefore=(.*)", p).group(1)
    na = re.search(r"notAfter=(.*)", p).group(1)
    import datetime
    f = "%b %d %H:%M:%S %Y GMT"
    a = datetime.datetime.strptime(" ".join(nb.split()), f)
    b = datetime.datetime.strptime(" ".join(na.split()), f)
    return (b - a).total_seconds() / 86400


def make_pair(cert, key, days):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=old"], capture_output=True, check=True)
    os.chmod(key, 0o600)


with pmtest.Daemon() as d:
    pem, fp = served(d)
    days = validity_days(pem)
    pmtest.check("generated certificate valid 397 days (plus the hour of clock slack)",
                 397 <= days <= 397.05, days)

d = pmtest.Daemon(start=False)
make_pair(d.cert, d.key, 10)
with open(d.cert) as f:
    old_fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
d.start()
with d:
    pem, fp = served(d)
    pmtest.check("an expiring generated pair is replaced at start", fp != old_fp)
    pmtest.check("the new one is valid 397 days", 397 <= validity_days(pem) <= 397.05)
    log = d.log_text()
    pmtest.check("the log says why", re.search(r"expires in (9|10) days .*generating a new one", log)
                 is not None, log[-1500:])
    m = re.findall(r"fingerprint (\S+)", log)
    pmtest.check("the log names the new fingerprint",
                 m and m[-1].replace(":", "").lower() == fp, (m, fp))

AGE = 6  # tls_generated_max_age, seconds


def ftps_fp(d):
    pem = ssl.get_server_certificate(("127.0.0.1", d.ftps_port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


with pmtest.Daemon(sets={"tls_generated_max_age": str(AGE)}) as d:
    _, fp1 = served(d)
    end = time.time() + AGE + 60
    fp2 = fp1
    while time.time() < end and fp2 == fp1:
        time.sleep(0.5)
        _, fp2 = served(d)
    pmtest.check("the running daemon renews the generated pair when it is due", fp2 != fp1,
                 d.log_text()[-1500:])
    log = d.log_text()
    pmtest.check("the log says why",
                 re.search(r"expires in 39\d days .*at tls_generated_max_age.*generating a new one",
                           log) is not None, log[-1500:])
    m = re.findall(r"reloaded certificate .*fingerprint (\S+)", log)
    pmtest.check("the log names the renewed fingerprint",
                 fp2 in [x.replace(":", "").lower() for x in m], (m, fp2))
    end = time.time() + 30
    while time.time() < end and ftps_fp(d) == fp1:
        time.sleep(0.5)
    pmtest.check("implicit FTPS serves a renewed certificate too", ftps_fp(d) != fp1)
    pmtest.check("no renewal error", "renewing the generated certificate:" not in log,
                 log[-1500:])
    r = d.curl("-k", "-o", "/dev/null", "-w", "%{http_code}", path="/")
    pmtest.check("and the mirror still serves", r.stdout == b"200", r.stdout)
    if os.geteuid() == 0:
        pmtest.check("while running as the service user",
                     "running as user nobody" in log, log[-800:])

d = pmtest.Daemon(start=False)
own_c, own_k = os.path.join(d.tmp, "own.pem"), os.path.join(d.tmp, "own.key")
make_pair(own_c, own_k, 10)
d.sets.update({"tls_cert": own_c, "tls_key": own_k})
d.write_conf()
with open(own_c) as f:
    own_fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
d.start()
with d:
    pem, fp = served(d)
    pmtest.check("a configured certificate is never replaced", fp == own_fp)
pmtest.done()
