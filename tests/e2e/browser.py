"""Headless Chromium helpers for the page tests: trust the daemon's
generated certificate by its key, take screenshots, dump the DOM after
scripts ran, with the console (CSP reports land there) on stderr."""
import base64
import hashlib
import os
import shutil
import subprocess
import tempfile

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def spki_hash(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def run(d, path, extra, width=1200, height=900, dark=False):
    """Run headless Chromium on d's path with extra arguments; the
    CompletedProcess (bytes)."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError("chromium is not installed")
    prof = tempfile.mkdtemp(prefix="pm-chromium-")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + prof,
            "--enable-logging=stderr", "--v=0",
            "--ignore-certificate-errors-spki-list=" + spki_hash(d.cert),
            "--window-size=%d,%d" % (width, height)] + list(extra)
    if dark:
        argv += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
    argv.append(d.url(path))
    try:
        return subprocess.run(argv, capture_output=True, timeout=90)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def chromium_dom(d, path):
    """(DOM after scripts ran, Chromium's log text)."""
    p = run(d, path, ["--dump-dom", "--virtual-time-budget=3000"])
    return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def shoot(d, path, png, width, height, dark=False):
    return run(d, path, ["--screenshot=" + png, "--virtual-time-budget=3000"], width, height,
               dark)
