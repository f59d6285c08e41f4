"""rsynctest - Debian's real rsync client against pubmirrord's rsync://
listener: a daemon with rsync_listen on a free port, and a runner that
returns (exit status, stdout + stderr as text)."""
import os
import shutil
import subprocess

import pmtest


def need_rsync():
    """The client is required: its absence is a failure, not a skip."""
    ok = shutil.which("rsync") is not None
    pmtest.check("the rsync client is installed", ok)
    if not ok:
        pmtest.done()


def daemon(sets=None, **kw):
    port = pmtest.free_port()
    s = {"rsync_listen": "127.0.0.1:%d" % port, "json_log": ""}
    if sets:
        s.update(sets)
    d = pmtest.Daemon(sets=s, **kw)
    d.rsync_port = port
    if not pmtest.wait_port(port, proc=d.proc):
        raise RuntimeError("no rsync listener; log:\n" + d.log_text())
    return d


def url(d, path="mirror/"):
    return "rsync://127.0.0.1:%d/%s" % (d.rsync_port, path)


def run(*args, timeout=300, env=None):
    """The rsync client with args; env: extra environment variables."""
    e = None
    if env:
        e = dict(os.environ)
        e.update(env)
    p = subprocess.run(["rsync", "--contimeout=20", "--timeout=60"] + list(args),
                       capture_output=True, timeout=timeout, env=e)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def stat_value(out, name):
    """A number of rsync --stats output ("Literal data: 1,234 bytes")."""
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1].split()[0].replace(",", ""))
    return -1


def same_tree(a, b):
    p = subprocess.run(["diff", "-r", a, b], capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


def tmpdir(d, name):
    p = os.path.join(d.tmp, name)
    return p
