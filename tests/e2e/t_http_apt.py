"""apt downloads over HTTPS with the generated certificate trusted
(apt-helper download-file), checks the hash, and resumes a partial file."""
import hashlib
import os
import shutil
import subprocess
import tempfile
import pmtest

HELPER = "/usr/lib/apt/apt-helper"

with pmtest.Daemon() as d:
    pmtest.check("apt-helper present", os.path.exists(HELPER))
    data = bytes((i * 13 + 5) % 256 for i in range(2 * 1024 * 1024 + 77))
    os.makedirs(os.path.join(d.root, "debian", "pool"))
    src = os.path.join(d.root, "debian", "pool", "pkg_1.0_amd64.deb")
    with open(src, "wb") as f:
        f.write(data)
    d.reload()
    digest = hashlib.sha256(data).hexdigest()
    tmp = tempfile.mkdtemp(prefix="pm-apt-")
    os.chmod(tmp, 0o777)  # apt drops to the _apt user for downloads
    out = os.path.join(tmp, "pkg.deb")
    opts = ["-o", "Acquire::https::CaInfo=" + d.cert, "-o", "Debug::Acquire::https=false",
            "-o", "Acquire::Retries=0", "-o", "APT::Sandbox::User=root"]
    url = d.url("/debian/pool/pkg_1.0_amd64.deb")
    ok = False
    for _ in range(50):
        p = subprocess.run([HELPER] + opts + ["download-file", url, out, "SHA256:" + digest],
                           capture_output=True, timeout=120)
        if p.returncode == 0:
            ok = True
            break
        import time
        time.sleep(0.1)
    pmtest.check("apt-helper downloads with the hash checked", ok, (p.stdout + p.stderr)[-500:])
    with open(out, "rb") as f:
        pmtest.check("apt's copy is exact", f.read() == data)

    # Resume: apt keeps a partial file in partial/ and asks for the rest with
    # Range + If-Range (the Last-Modified date); the helper resumes a file
    # already present at the destination the same way.
    with open(out, "wb") as f:
        f.write(data[:1000000])
    st = os.stat(src)
    os.utime(out, (st.st_mtime, st.st_mtime))
    p = subprocess.run([HELPER] + opts + ["-o", "Debug::Acquire::http=true",
                                          "download-file", url, out, "SHA256:" + digest],
                       capture_output=True, timeout=120)
    with open(out, "rb") as f:
        got = f.read()
    pmtest.check("apt resume completes", p.returncode == 0 and got == data, (p.stdout + p.stderr)[-500:])
    d.settle(d.access_log)
    with open(d.access_log) as f:
        log = f.read()
    pmtest.check("apt asked for the rest (206 in the log)", '" 206 ' in log, log[-600:])
    shutil.rmtree(tmp, ignore_errors=True)
pmtest.done()
