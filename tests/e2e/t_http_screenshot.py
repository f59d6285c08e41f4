"""A headless Chromium renders a listing page (CSS, icons and script from
/.pubmirror/ under the strict CSP); the screenshot is kept under
build/screenshots/ for people to look at."""
import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile
import pmtest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = os.path.join(pmtest.TOP, os.environ.get("PM_BUILD", "build"), "screenshots")


def spki_hash(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def shoot(d, path, png, width, height, dark=False):
    prof = tempfile.mkdtemp(prefix="pm-chromium-")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + prof,
            "--ignore-certificate-errors-spki-list=" + spki_hash(d.cert),
            "--screenshot=" + png, "--window-size=%d,%d" % (width, height)]
    if dark:
        argv.append("--force-dark-mode")
        argv.append("--blink-settings=preferredColorScheme=0")
    argv.append(d.url(path))
    try:
        p = subprocess.run(argv, capture_output=True, timeout=90)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    return p


with pmtest.Daemon() as d:
    pmtest.check("chromium installed", os.path.exists(CHROMIUM))
    os.makedirs(OUT, exist_ok=True)
    docs = os.path.join(d.root, "pub")
    for n in ("debian-12.5.0-amd64-netinst.iso", "a-very-long-file-name-that-must-never-be-truncated-"
              "in-the-listing-whatever-the-width-of-the-screen.tar.xz"):
        with open(os.path.join(docs, n), "wb") as f:
            f.truncate(658505728 if n.endswith(".iso") else 12345)
    d.reload()
    for name, w, h, dark in (("listing.png", 1200, 900, False), ("listing-phone.png", 390, 844, False),
                             ("listing-dark.png", 1200, 900, True)):
        png = os.path.join(OUT, name)
        if os.path.exists(png):
            os.unlink(png)
        p = shoot(d, "/pub/", png, w, h, dark)
        size = os.path.getsize(png) if os.path.exists(png) else 0
        pmtest.check("screenshot %s saved (%d bytes)" % (png, size), size > 20000,
                     p.stderr[-400:])
    d.settle(d.access_log)
    with open(d.access_log) as f:
        log = f.read()
    for a in ("style.css", "filter.js", "dir.svg", "file.svg"):
        pmtest.check("page loaded /.pubmirror/%s under the CSP" % a,
                     ('"GET /.pubmirror/%s HTTP/1.1" 200' % a) in log, log[-600:])
pmtest.done()
