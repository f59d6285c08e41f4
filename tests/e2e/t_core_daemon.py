"""The daemon's life on the embedded default: started from a directory
holding mirror-root/ with the sample config (only the ports changed, so that
a second run never collides), it generates a self-signed certificate once
(SAN localhost, 127.0.0.1, ::1; key 0600), logs its fingerprint, reuses it
on the next start, refuses a key others can read, and stops cleanly on
Ctrl-C (SIGINT) and SIGTERM."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pmtest

TOP = pmtest.TOP
work = tempfile.mkdtemp(prefix="pm-core-")
os.chmod(work, 0o755)
shutil.copytree(os.path.join(TOP, "mirror-root"), os.path.join(work, "mirror-root"))
# The sample's relative paths are relative to its own directory (conf/):
# a copy in work/conf/ serves work/mirror-root and keeps work/state.
os.mkdir(os.path.join(work, "conf"))
conf = os.path.join(work, "conf", "pubmirror.conf")
shutil.copy(os.path.join(TOP, "conf", "pubmirror.conf"), conf)
os.chmod(conf, 0o644)


def start():
    ports = [pmtest.free_port() for _ in range(3)]
    lo, hi = pmtest.free_range()
    argv = [pmtest.BINARY, "-f", "-c", conf,
            "--set", "ftp_listen=127.0.0.1:%d" % ports[0],
            "--set", "ftps_listen=127.0.0.1:%d" % ports[1],
            "--set", "https_listen=127.0.0.1:%d" % ports[2],
            "--set", "pasv_ports=%d-%d" % (lo, hi)]
    log = open(os.path.join(work, "log.txt"), "w+b")
    p = subprocess.Popen(argv, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    ok = all(pmtest.wait_port(x, proc=p) for x in ports)
    return p, ports, log, ok


def logtext(log):
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")


p, ports, log, ok = start()
pmtest.check("starts on the sample config and binds FTP, FTPS, HTTPS", ok, logtext(log))
state = os.path.join(work, "state")
cert, key = os.path.join(state, "cert.pem"), os.path.join(state, "key.pem")
pmtest.check("a certificate was generated in state/", os.path.exists(cert) and os.path.exists(key))
pmtest.check_eq("the key is mode 0600", 0o600, os.stat(key).st_mode & 0o777)
m = re.search(r"fingerprint ([0-9A-F:]{95})", logtext(log))
pmtest.check("the SHA-256 fingerprint is logged", m is not None, logtext(log)[-2000:])
fp1 = m.group(1) if m else None
txt = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                     capture_output=True, text=True).stdout
for name in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
    pmtest.check("subjectAltName has %s" % name, name in txt, txt[-800:])
r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", cert,
                    "https://localhost:%d/pub/hello/SHA256SUMS" % ports[2]],
                   capture_output=True)
with open(os.path.join(work, "mirror-root", "pub", "hello", "SHA256SUMS"), "rb") as f:
    pmtest.check("HTTPS serves mirror-root with the pinned certificate", r.stdout == f.read(),
                 r.stderr)
r = subprocess.run(["curl", "-sS", "--max-time", "10",
                    "ftp://127.0.0.1:%d/pub/hello/SHA256SUMS" % ports[0]], capture_output=True)
with open(os.path.join(work, "mirror-root", "pub", "hello", "SHA256SUMS"), "rb") as f:
    pmtest.check("FTP serves the same file", r.stdout == f.read(), r.stderr)
p.send_signal(signal.SIGINT)
try:
    rc = p.wait(15)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hung"
pmtest.check_eq("Ctrl-C (SIGINT) stops it with status 0", 0, rc)
pmtest.check("it says it stopped", "stopped" in logtext(log), logtext(log)[-500:])
log.close()

p, ports, log, ok = start()
pmtest.check("second start", ok, logtext(log))
m = re.search(r"fingerprint ([0-9A-F:]{95})", logtext(log))
pmtest.check_eq("the certificate is reused on the next start", fp1, m.group(1) if m else None)
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(40)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hung"
pmtest.check_eq("SIGTERM stops it with status 0", 0, rc)
log.close()

os.chmod(key, 0o644)
p, ports, log, ok = start()
try:
    rc = p.wait(15)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "still running"
pmtest.check("a key others can read is refused at start", rc not in (0, "still running"), rc)
pmtest.check("with a message that says so", "readable by other users" in logtext(log),
             logtext(log)[-600:])
log.close()
shutil.rmtree(work, ignore_errors=True)
pmtest.done()
