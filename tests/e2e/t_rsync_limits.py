"""rsync:// under the shared limiter: an address banned after failed
HTTPS logins is refused on rsync too, with the reason on the client's
screen; max_per_ip counts rsync connections with the others."""
import os
import socket
import time
import subprocess
import tempfile

import pmtest
import rsynctest
from pmtest import check

rsynctest.need_rsync()
mport = pmtest.free_port()
tmp = tempfile.mkdtemp(prefix="pm-rsync-ban-")
os.chmod(tmp, 0o755)
hp = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True)
htpasswd = os.path.join(tmp, "htpasswd")
with open(htpasswd, "w") as f:
    f.write("alice:" + hp.stdout.strip() + "\n")
os.chmod(htpasswd, 0o644)

with rsynctest.daemon(sets={"auth_file": htpasswd, "auth_paths": "/pub/hello",
                            "ban_after": "3", "ban_time": "120", "max_per_ip": "2",
                            "metrics_listen": "127.0.0.1:%d" % mport}) as d:
    try:
        # the start-up probe's connection must be gone before we count
        time.sleep(1.5)
        # two held connections from 127.0.0.1 fill max_per_ip
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", d.rsync_port), timeout=10)
            s.recv(100)
            held.append(s)
        rc, out = rsynctest.run("rsync://127.0.0.1:%d/" % d.rsync_port)
        check("a third connection is refused (max_per_ip)",
              rc != 0 and "too many connections from your address" in out, out)
        for s in held:
            s.close()
        ok = False
        for _ in range(50):
            rc, out = rsynctest.run("rsync://127.0.0.1:%d/" % d.rsync_port)
            if rc == 0:
                ok = True
                break
            time.sleep(0.1)
        check("after they close, the address is served again", ok, out)
        for i in range(3):
            d.curl("-u", "alice:wrong%d" % i, path="/pub/hello/SHA256SUMS")
        rc, out = rsynctest.run("-a", rsynctest.url(d), os.path.join(tmp, "dst") + "/")
        check("a banned address is refused on rsync with the reason",
              rc != 0 and "banned" in out, out)
        check("nothing was pulled", not os.path.exists(os.path.join(tmp, "dst", "README")))
        m = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % mport],
                           capture_output=True, text=True).stdout
        for needle in ('pubmirror_connections_refused_total{proto="rsync",reason="banned"} 1',
                       'pubmirror_connections_refused_total{proto="rsync",reason="per_ip"} 1'):
            check("metrics: " + needle, needle in m, m[:3000])
        check("metrics count rsync bytes", 'pubmirror_sent_bytes_total{proto="rsync"} 0' not in m
              and 'pubmirror_sent_bytes_total{proto="rsync"}' in m)
    finally:
        d.cleanup()
pmtest.done()
