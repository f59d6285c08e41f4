"""One TLS policy for both protocols: HTTPS and implicit FTPS accept and
refuse the same protocol versions and suites (openssl s_client); a renewed
certificate is picked up on SIGHUP without a restart, an open keep-alive
connection keeps working and a new connection sees the new fingerprint."""
import hashlib
import os
import pwd
import socket
import ssl
import subprocess
import time
import pmtest


def s_client(port, *args):
    try:
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                            "-servername", "localhost"] + list(args),
                           input=b"", capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None, "no TLS handshake within 10 s"
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    ok = p.returncode == 0 and ("Cipher is " in out and "Cipher is (NONE)" not in out)
    return ok, out


def make_cert(cert, key, cn):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key + ".new", "-out", cert + ".new"],
                   check=True, capture_output=True)
    nobody = pwd.getpwnam("nobody")
    for f in (key + ".new", cert + ".new"):
        os.chown(f, nobody.pw_uid, nobody.pw_gid)
    os.chmod(key + ".new", 0o600)
    os.chmod(cert + ".new", 0o644)
    os.rename(key + ".new", key)
    os.rename(cert + ".new", cert)


def fingerprint(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return hashlib.sha256(t.getpeercert(True)).hexdigest()


def file_fp(cert):
    with open(cert) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


with pmtest.Daemon(start=False) as d:
    cdir = os.path.join(d.tmp, "certs")
    os.mkdir(cdir)
    os.chmod(d.tmp, 0o755)
    os.chmod(cdir, 0o755)
    cert, key = os.path.join(cdir, "cert.pem"), os.path.join(cdir, "key.pem")
    make_cert(cert, key, "first")
    d.cert = cert
    d.write_conf({"tls_cert": cert, "tls_key": key})
    os.chmod(d.conf, 0o644)
    d.start()
    pmtest.wait_port(d.ftps_port)

    cases = [
        ("TLS 1.1", ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], False),
        ("TLS 1.2", ["-tls1_2"], True),
        ("TLS 1.3", ["-tls1_3"], True),
        ("TLS 1.2 CBC suite", ["-tls1_2", "-cipher", "AES128-SHA:AES256-SHA256"], False),
        ("TLS 1.2 without forward secrecy", ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], False),
        ("TLS 1.2 ECDHE-GCM", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], True),
    ]
    for name, args, want in cases:
        h, hout = s_client(d.https_port, *args)
        f, fout = s_client(d.ftps_port, *args)
        pmtest.check("HTTPS %s %s" % (name, "accepted" if want else "refused"), h == want, hout[-300:])
        pmtest.check("FTPS %s same as HTTPS" % name, f == h, fout[-300:])

    # Certificate renewal.
    fp1 = fingerprint(d.https_port)
    pmtest.check_eq("serves the first certificate", file_fp(cert), fp1)
    ctx = ssl.create_default_context(cafile=cert)
    old = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=10),
                          server_hostname="localhost")
    old.sendall(b"HEAD /README HTTP/1.1\r\nHost: x\r\n\r\n")
    a1 = old.recv(65536)
    make_cert(cert, key, "second")
    d.reload()
    fp2 = None
    for _ in range(100):
        fp2 = fingerprint(d.https_port)
        if fp2 != fp1:
            break
        time.sleep(0.1)
    pmtest.check_eq("new connection sees the new certificate", file_fp(cert), fp2)
    old.sendall(b"HEAD /README HTTP/1.1\r\nHost: x\r\n\r\n")
    a2 = old.recv(65536)
    old.close()
    pmtest.check("open keep-alive connection keeps working", a1.startswith(b"HTTP/1.1 200")
                 and a2.startswith(b"HTTP/1.1 200"), (a1[:40], a2[:40]))
    p = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/README")
    pmtest.check_eq("curl trusts the new certificate", b"200", p.stdout)
    pmtest.check_eq("the daemon kept running", None, d.proc.poll())
pmtest.done()
