"""A failed Basic login costs the same whatever the name: a bcrypt user, a
{SHA} user and a name that does not exist all take about one bcrypt
verification (medians compared as ratios, robust on a loaded machine)."""
import base64
import hashlib
import os
import socket
import ssl
import statistics
import tempfile
import time
import warnings

import hostile
import pmtest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt


def main():
    tmp = tempfile.mkdtemp(prefix="pm-authtime-")
    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write("alice:%s\n" % crypt.crypt("right", crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                                  rounds=1 << 10)))
        f.write("sam:{SHA}%s\n" % base64.b64encode(hashlib.sha1(b"right").digest()).decode())
    os.chmod(htpasswd, 0o644)
    with pmtest.Daemon(sets={"auth_file": htpasswd, "auth_paths": "/pub",
                             "ban_after": "0"}) as d:
        s = hostile.ssl_ctx(d).wrap_socket(hostile.conn(d, d.https_port, "127.0.0.4", 15.0))

        def once(user):
            cred = base64.b64encode(("%s:wrong" % user).encode()).decode()
            t0 = time.monotonic()
            s.sendall(("GET /pub/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                       % cred).encode())
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(65536)
            head, _, body = got.partition(b"\r\n\r\n")
            n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length:")]
            while n and len(body) < n[0]:
                body += s.recv(65536)
            assert head.startswith(b"HTTP/1.1 401"), head[:80]
            return time.monotonic() - t0

        users = ("alice", "sam", "nobody-here")
        for user in users:
            once(user)
        # Interleaved rounds, each in another order, so that a burst of
        # load elsewhere on the machine lands on every name alike.
        samples = {u: [] for u in users}
        for i in range(15):
            for k in range(len(users)):
                u = users[(i + k) % len(users)]
                samples[u].append(once(u))
        med = {u: statistics.median(v) for u, v in samples.items()}
        s.close()
        print("# failed-login medians: %s" % ", ".join("%s %.1f ms" % (u, t * 1000)
                                                       for u, t in med.items()))
        lo, hi = min(med.values()), max(med.values())
        pmtest.check("failed logins cost the same for every name (max/min < 2)",
                     hi / lo < 2.0, med)
    pmtest.done()


main()
