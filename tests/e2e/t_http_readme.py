"""README.md and HEADER.md are rendered with libcmark in safe mode: raw
HTML and javascript:/data:/vbscript: links of a hostile README come out
inert, under the page's strict CSP; README and README.txt stay text; the
header sits above the table (Apache's HeaderName).  A headless Chromium
loads the page: no script of the README runs, no CSP violation."""
import os
import re
import shutil
import subprocess
import tempfile
import pmtest
from browser import chromium_dom

HOSTILE = """# Release notes

Some **bold** text and a [good link](https://example.org/x?a=1&b=2).

<script>document.title='pwned-script'</script>

<img src=x onerror="document.title='pwned-img'">

[click me](javascript:document.title='pwned-link')
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[vb](vbscript:msgbox(1))
<a href="javascript:alert(1)">raw anchor</a>

<iframe src="https://example.org/"></iframe>

```
<script>not code</script>
```
"""


def main():
    with pmtest.Daemon() as d:
        pub = os.path.join(d.root, "pub")
        with open(os.path.join(pub, "README.md"), "w") as f:
            f.write(HOSTILE)
        with open(os.path.join(pub, "HEADER.md"), "w") as f:
            f.write("## Welcome to *pub*\n\n<style>body{display:none}</style>\n")
        os.makedirs(os.path.join(pub, "txt"))
        with open(os.path.join(pub, "txt", "README.txt"), "w") as f:
            f.write("plain *text* <b>not bold</b>\n")
        d.reload()
        page = ""
        for _ in range(200):
            page = d.curl(path="/pub/").stdout.decode()
            if "Release notes" in page:
                break
            import time
            time.sleep(0.1)
        pmtest.check("README.md rendered", "<h1>Release notes</h1>" in page, page[-800:])
        pmtest.check("markdown emphasis", "<strong>bold</strong>" in page)
        pmtest.check("safe link kept", '<a href="https://example.org/x?a=1&amp;b=2">good link</a>'
                     in page, page[-1500:])
        body = page[page.index("pm-header"):]
        pmtest.check("no <script> from the README", "<script>" not in body.replace(
            "&lt;script&gt;", ""), body)
        pmtest.check("no javascript: link", "javascript:" not in body, body)
        pmtest.check("no vbscript: or data: link", "vbscript:" not in body
                     and "data:text" not in body, body)
        pmtest.check("no event handler attribute", "onerror" not in body, body)
        pmtest.check("no iframe", "<iframe" not in body, body)
        pmtest.check("no <style> from HEADER.md", "<style>" not in body, body)
        pmtest.check("unsafe links kept as text with an empty href",
                     '<a href="">click me</a>' in body, body)
        pmtest.check("code block escaped", "&lt;script&gt;not code&lt;/script&gt;" in body)
        hi, ti = page.find("Welcome to <em>pub</em>"), page.find('<table id="pm-list">')
        pmtest.check("HEADER.md rendered above the table", 0 < hi < ti, (hi, ti))
        txt = d.curl(path="/pub/txt/").stdout.decode()
        pmtest.check("README.txt shown as text",
                     "plain *text* &lt;b&gt;not bold&lt;/b&gt;" in txt, txt[-600:])

        # A real browser: nothing of the README runs, the CSP is not violated
        dom, log = chromium_dom(d, "/pub/")
        m = re.search(r"<title>(.*?)</title>", dom)
        pmtest.check_eq("page title untouched by the README", "Index of /pub/",
                        m.group(1) if m else None)
        pmtest.check("no 'pwned' in the rendered DOM's title", "pwned" not in (m.group(1) if m else ""))
        pmtest.check("no Content-Security-Policy violation",
                     "Content Security Policy" not in log and "Refused to" not in log, log[-1500:])
        pmtest.check("filter.js ran (copy buttons or filter shown)",
                     'id="pm-filter"' in dom and 'id="pm-filter" placeholder' in dom
                     and "hidden=\"\"" not in dom.split('id="pm-filter"')[1][:200], dom[:1500])
    pmtest.done()


if __name__ == "__main__":
    main()
