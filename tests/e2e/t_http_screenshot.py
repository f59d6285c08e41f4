"""A headless Chromium renders a listing page (CSS, icons and script from
/.pubmirror/ under the strict CSP) at phone and desktop width, light and
dark; the screenshots are kept under build/screenshots/ for people to look
at.  The DOM after scripts ran shows the page details: the filter box and
copy buttons added by filter.js, the digests as text, exact sizes in the
size cells' titles, break points in long names."""
import os
import pmtest
from browser import CHROMIUM, chromium_dom, shoot

OUT = os.path.join(pmtest.TOP, os.environ.get("PM_BUILD", "build"), "screenshots")
LONG = ("a-very-long-file-name-that-must-never-be-truncated-"
        "in-the-listing-whatever-the-width-of-the-screen.tar.xz")

with pmtest.Daemon() as d:
    pmtest.check("chromium installed", os.path.exists(CHROMIUM))
    os.makedirs(OUT, exist_ok=True)
    docs = os.path.join(d.root, "pub")
    for n in ("debian-12.5.0-amd64-netinst.iso", LONG):
        with open(os.path.join(docs, n), "wb") as f:
            f.truncate(658505728 if n.endswith(".iso") else 12345)
    with open(os.path.join(docs, "README.md"), "w") as f:
        f.write("# pub\n\nRelease tarballs, **signed**; check them with `sha256sum -c`.\n")
    d.reload()
    for name, path, w, h, dark in (
            ("listing.png", "/pub/", 1200, 900, False),
            ("listing-dark.png", "/pub/", 1200, 900, True),
            ("listing-phone.png", "/pub/", 390, 844, False),
            ("listing-phone-dark.png", "/pub/", 390, 844, True),
            ("listing-sums.png", "/pub/hello/", 1200, 700, False),
            ("listing-sums-phone.png", "/pub/hello/", 390, 844, False)):
        png = os.path.join(OUT, name)
        if os.path.exists(png):
            os.unlink(png)
        p = shoot(d, path, png, w, h, dark)
        size = os.path.getsize(png) if os.path.exists(png) else 0
        pmtest.check("screenshot %s saved (%d bytes)" % (png, size), size > 20000,
                     p.stderr[-400:])
    d.settle(d.access_log)
    with open(d.access_log) as f:
        log = f.read()
    for a in ("style.css", "filter.js", "dir.svg", "file.svg"):
        pmtest.check("page loaded /.pubmirror/%s under the CSP" % a,
                     ('"GET /.pubmirror/%s HTTP/1.1" 200' % a) in log, log[-600:])

    dom, clog = chromium_dom(d, "/pub/hello/")
    pmtest.check("no Content-Security-Policy violation", "Content Security Policy" not in clog,
                 clog[-800:])
    pmtest.check("filter box shown by the script",
                 '<input type="search" id="pm-filter" placeholder="Filter names" '
                 'aria-label="Filter names" autocomplete="off">' in dom, dom[:1200])
    pmtest.check("a copy button beside each digest",
                 dom.count('class="pm-copy"') == dom.count("<details>") > 0, dom[-1500:])
    pmtest.check("digest readable as text", "</summary><code>" in dom)
    pmtest.check("exact bytes in the size cell's title", 'title="582 bytes"' in dom, dom[-1500:])
    pmtest.check("exact-size switch", 'id="pm-exact"' in dom)
    dom, _ = chromium_dom(d, "/pub/")
    pmtest.check("long names break after - and .",
                 "a-<wbr>very-<wbr>long-" in dom and "screen.<wbr>tar.<wbr>xz" in dom, dom[-2500:])
pmtest.done()
