"""The command-line contract: -t on good and broken configs (file:line,
non-zero exit), --set, unknown options, --dump-config equal to the
committed sample, the README's reference equal to the table, -V, -h."""
import os
import subprocess
import tempfile

import pmtest

B = pmtest.BINARY
TOP = pmtest.TOP


def run(*args, cwd=TOP):
    return subprocess.run([B] + list(args), capture_output=True, text=True,
                          cwd=cwd, timeout=30)


tmp = tempfile.mkdtemp(prefix="pm-cli-")
root = os.path.join(TOP, "mirror-root")

r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"))
pmtest.check_eq("-t on the sample config exits 0", 0, r.returncode)
pmtest.check("-t says OK", "OK" in r.stdout, r.stdout + r.stderr)

bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("# a broken config\nroot = %s\n\nmax_clients = lots\n" % root)
r = run("-t", "-c", bad)
pmtest.check("-t on a bad value exits non-zero", r.returncode != 0, r.returncode)
pmtest.check("-t names file:line: key", (bad + ":4: max_clients:") in r.stderr, r.stderr)

with open(bad, "w") as f:
    f.write("root = %s\nno_such_key = 1\n" % root)
r = run("-t", "-c", bad)
pmtest.check("unknown key is an error", r.returncode != 0 and
             (bad + ":2:") in r.stderr and "no_such_key" in r.stderr, r.stderr)

with open(bad, "w") as f:
    f.write("root = %s\nftp_listen = 127.0.0.1:99999\n" % root)
r = run("-t", "-c", bad)
pmtest.check("bad port is an error naming the line", r.returncode != 0 and
             (bad + ":2: ftp_listen:") in r.stderr, r.stderr)

r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"), "--set", "max_per_ip=abc")
pmtest.check("--set with a bad value names the key", r.returncode != 0 and
             "max_per_ip" in r.stderr, r.stderr)

r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"), "--set", "root=/nonexistent-pm")
pmtest.check("-t checks that the root exists", r.returncode != 0 and
             "/nonexistent-pm" in r.stderr, r.stderr)

r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"),
        "--set", "ftp_listen=[::1]:2121,127.0.0.1:2121", "--set", "rate_per_ip=10M")
pmtest.check_eq("IPv6 address lists and size suffixes are accepted", 0, r.returncode)

# Relative paths in a file are relative to its directory: the same answer
# from any working directory.
r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"), cwd="/")
pmtest.check_eq("-t on the sample from / exits 0", 0, r.returncode)

# -t refuses the key that start-up refuses (others may read it).
cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
g = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                    "-days", "2", "-keyout", key, "-out", cert],
                   capture_output=True, timeout=60)
pmtest.check("openssl made a test certificate", g.returncode == 0, g.stderr)
os.chmod(key, 0o600)
r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"),
        "--set", "tls_cert=" + cert, "--set", "tls_key=" + key)
pmtest.check_eq("-t accepts a 0600 key", 0, r.returncode)
os.chmod(key, 0o644)
r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"),
        "--set", "tls_cert=" + cert, "--set", "tls_key=" + key)
pmtest.check("-t refuses a 0644 key, naming it", r.returncode != 0 and
             "k.pem" in r.stderr and "chmod 600" in r.stderr, r.stderr)

if os.geteuid() == 0:
    r = run("-t", "-c", os.path.join(TOP, "conf", "pubmirror.conf"),
            "--set", "user=pm-no-such-user")
    pmtest.check("-t as root refuses a user that does not exist, saying how to create it",
                 r.returncode != 0 and "useradd" in r.stderr, r.stderr)

r = run("--no-such-option")
pmtest.check_eq("unknown option exits 2", 2, r.returncode)
r = run("-V")
pmtest.check("-V prints the version", r.returncode == 0 and r.stdout.startswith("pubmirrord "))
r = run("-h")
pmtest.check("-h shows the synopsis", r.returncode == 0 and "--set KEY=VALUE" in r.stdout)

r = run("--dump-config")
with open(os.path.join(TOP, "conf", "pubmirror.conf")) as f:
    sample = f.read()
pmtest.check("conf/pubmirror.conf is what --dump-config writes", r.stdout == sample,
             "regenerate it with: make sample")

r = run("--reference")
with open(os.path.join(TOP, "README.md")) as f:
    readme = f.read()
pmtest.check("README's configuration reference is the table's", r.stdout.strip() in readme,
             "paste the output of pubmirrord --reference into README.md")

for sec in ("5", "8"):
    r = run("--man", sec)
    pmtest.check("--man %s writes a roff page" % sec, r.returncode == 0 and
                 r.stdout.startswith(".") and ".TH" in r.stdout)
pmtest.done()
