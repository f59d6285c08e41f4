"""`make check` starts with `tests/tools/deps.sh --test`: on a machine where
a test package is missing and the user can neither be root nor use sudo
without a password, it stops at once, naming the missing packages and the
one command that installs them (it installs them itself as root).  Here
dpkg-query and sudo are stand-ins on PATH for such a machine, and the
script runs as nobody; nothing is installed."""
import os
import shutil
import subprocess
import tempfile

import pmtest

tmp = tempfile.mkdtemp(prefix="pm-deps-")
os.chmod(tmp, 0o755)
try:
    binp = os.path.join(tmp, "bin")
    os.mkdir(binp)
    os.chmod(binp, 0o755)
    with open(os.path.join(binp, "dpkg-query"), "w") as f:
        # every package installed but haproxy and prometheus
        f.write('#!/bin/sh\nfor a; do p=$a; done\ncase "$p" in haproxy|prometheus) exit 1;; '
                'esac\nprintf "install ok installed"\n')
    with open(os.path.join(binp, "sudo"), "w") as f:
        f.write("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    for n in ("dpkg-query", "sudo"):
        os.chmod(os.path.join(binp, n), 0o755)
    script = os.path.join(tmp, "deps.sh")
    shutil.copy(os.path.join(pmtest.TOP, "tests/tools/deps.sh"), script)
    os.chmod(script, 0o755)
    pmtest.check("runuser is installed", shutil.which("runuser") is not None)
    argv = ["env", "PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin" % binp, "sh", script, "--test"]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "nobody", "--"] + argv
    r = subprocess.run(argv, capture_output=True, timeout=60, cwd=tmp)
    err = r.stderr.decode()
    pmtest.check("fails at once", r.returncode != 0, r.returncode)
    pmtest.check("names the missing packages", "haproxy" in err and "prometheus" in err, err)
    pmtest.check("gives the command that installs them",
                 "apt-get install -y haproxy prometheus" in err, err)
    pmtest.check("installs nothing (no apt-get run)", "installing:" not in r.stdout.decode(),
                 r.stdout)
    with open(os.path.join(pmtest.TOP, "Makefile")) as f:
        mk = f.read()
    rule = mk[mk.index("\ncheck:"):].split("\n\n")[0]
    pmtest.check("make check runs deps.sh --test first",
                 rule.strip().splitlines()[1].strip() == "sh tests/tools/deps.sh --test", rule)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
pmtest.done()
