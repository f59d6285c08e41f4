"""HTTPS listings: 301 to the slash form, HTML shape for people and mirror
tools, JSON in nginx's shape (query and Accept), sorting without links,
gzip with Vary, listing ETag/304, hostile names rendered safely, the
embedded assets and the Content-Security-Policy."""
import gzip
import html.parser
import http.client
import hashlib
import json
import os
import ssl
import time
import urllib.parse
import pmtest


def req(d, method, path, headers=None):
    ctx = ssl.create_default_context(cafile=d.cert)
    c = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=20)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []
        self.scripts = []
        self.inline_script = False
        self.attrs_on = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k, _ in attrs:
            if k.startswith("on"):
                self.attrs_on.append(k)
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        if tag == "script":
            self.scripts.append(a.get("src"))
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_script = True


HOSTILE = ["<script>alert(1).txt", "<img src=x onerror=alert(1)>.txt", "quo\"te's.txt", "100%.txt", "a:b.txt",
           "new\nline.txt", "\u00fcber-\u65e5\u672c.txt", "sp ace.txt", "amp&amp;.txt", "hash#q?.txt"]

with pmtest.Daemon() as d:
    h = os.path.join(d.root, "hostile")
    os.mkdir(h)
    for i, n in enumerate(HOSTILE):
        with open(os.path.join(h, n), "wb") as f:
            f.write(b"x" * (i + 1))
    os.mkdir(os.path.join(h, "sub dir"))
    big = os.path.join(d.root, "many")
    os.mkdir(big)
    for i in range(300):
        with open(os.path.join(big, "file-%04d.dat" % i), "wb") as f:
            f.write(b"y" * i)
    d.reload()
    ok = False
    for _ in range(100):
        r, _ = req(d, "GET", "/hostile/")
        r2, _ = req(d, "GET", "/many/")
        if r.status == 200 and r2.status == 200:
            ok = True
            break
        time.sleep(0.1)
    pmtest.check("new directories are indexed", ok)

    r, body = req(d, "GET", "/pub")
    pmtest.check_eq("dir without slash: 301", 301, r.status)
    pmtest.check_eq("Location", "/pub/", r.getheader("Location"))
    r, body = req(d, "GET", "/pub?C=S;O=D")
    pmtest.check_eq("redirect keeps the query", "/pub/?C=S;O=D", r.getheader("Location"))
    for other in ("//pub/", "/pub/./", "/pub/hello/..", "/./pub"):
        r, body = req(d, "GET", other)
        pmtest.check("%s redirects to the canonical /pub/" % other,
                     r.status == 301 and r.getheader("Location") == "/pub/", (r.status, r.getheader("Location")))
    r, body = req(d, "GET", "/")
    pmtest.check_eq("root listing", 200, r.status)
    r, body = req(d, "GET", "/hostile/sub%20dir")
    pmtest.check_eq("encoded redirect", "/hostile/sub%20dir/", r.getheader("Location"))

    r, body = req(d, "GET", "/hostile/")
    page = body.decode("utf-8")
    pmtest.check_eq("listing 200", 200, r.status)
    pmtest.check_eq("listing type", "text/html; charset=utf-8", r.getheader("Content-Type"))
    csp = r.getheader("Content-Security-Policy") or ""
    pmtest.check("strict CSP", "default-src 'none'" in csp and "script-src 'self'" in csp
                 and "unsafe-inline" not in csp, csp)
    p = Links()
    p.feed(page)
    pmtest.check("no inline script", not p.inline_script and p.attrs_on == [])
    pmtest.check("no raw <script>alert", "<script>alert" not in page)
    entries = [x for x in p.hrefs if x not in ("/", "/hostile/", "../")]
    pmtest.check("no query links at all", not any("?" in x for x in p.hrefs), p.hrefs)
    names = sorted(urllib.parse.unquote(x[2:] if x.startswith("./") else x) for x in entries)
    # A name with a control character can be served by no protocol (path
    # resolution refuses it), so the index leaves it out of every listing.
    servable = [n for n in HOSTILE if "\n" not in n]
    pmtest.check_eq("every entry one link, decoded names exact",
                    sorted(servable + ["sub dir/"]), names)
    pmtest.check("newline name left out", "line.txt" not in page)
    pmtest.check("colon name has ./", "./a%3Ab.txt" in p.hrefs, p.hrefs)
    pmtest.check("dir first", page.index("sub%20dir/") < page.index("sp%20ace.txt"))
    pmtest.check("all links relative", all("://" not in x and not x.startswith("//") for x in p.hrefs))
    pmtest.check("no sort links for crawlers", not any("C=" in x for x in p.hrefs))
    pmtest.check("sort form", '<form method="get">' in page and 'name="C" value="S"' in page)
    for rel in entries:
        r2, b2 = req(d, "GET", "/hostile/" + (rel[2:] if rel.startswith("./") else rel))
        if not rel.endswith("/"):
            pmtest.check("link %r fetches" % rel, r2.status == 200 and len(b2) >= 1, r2.status)

    # Sizes and dates in the text, as mirror tools read them.
    r, body = req(d, "GET", "/many/")
    page = body.decode()
    pmtest.check("exact size in text", '<td>299</td>' in page)
    st = os.stat(os.path.join(big, "file-0299.dat"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(st.st_mtime))
    pmtest.check("full UTC timestamp in text", stamp in page)
    pmtest.check("total", "300 files" in page)

    r, body = req(d, "GET", "/many/?C=S;O=D")
    page = body.decode()
    pmtest.check("sort by size desc (Apache query)", page.index("file-0299.dat") < page.index("file-0001.dat"))
    r, body = req(d, "GET", "/many/?C=N&O=D")
    page = body.decode()
    pmtest.check("sort by name desc (form query)", page.index("file-0299.dat") < page.index("file-0000.dat"))

    # JSON
    r, body = req(d, "GET", "/many/?format=json")
    pmtest.check_eq("json type", "application/json; charset=utf-8", r.getheader("Content-Type"))
    j = json.loads(body)
    pmtest.check_eq("json count", 300, len(j))
    # nginx's four keys, then "sha256" once the hasher has the file
    pmtest.check("json entry keys", list(j[5].keys())[:4] == ["name", "type", "mtime", "size"]
                 and set(j[5].keys()) <= {"name", "type", "mtime", "size", "sha256"}, j[5])
    with open(os.path.join(big, "file-0005.dat"), "rb") as f:
        want_sha = hashlib.sha256(f.read()).hexdigest()
    pmtest.check_eq("json sha256 (when present) is the file's", want_sha,
                    j[5].pop("sha256", want_sha))
    pmtest.check_eq("json entry", {"name": "file-0005.dat", "type": "file", "size": 5,
                                   "mtime": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                          time.gmtime(os.stat(os.path.join(big, "file-0005.dat")).st_mtime))},
                    j[5])
    pmtest.check("json line shape (nginx)", body.startswith(b'[\r\n{ "name":"file-0000.dat", "type":"file", "mtime":"')
                 and body.endswith(b' }\r\n]'))
    r, body = req(d, "GET", "/hostile/", {"Accept": "application/json"})
    j = json.loads(body)
    pmtest.check_eq("json via Accept", sorted(servable + ["sub dir"]), sorted(e["name"] for e in j))
    pmtest.check_eq("json dir type", "directory", [e for e in j if e["name"] == "sub dir"][0]["type"])
    pmtest.check("Vary", "Accept-Encoding" in (r.getheader("Vary") or ""))

    # gzip, cache validators
    r, body = req(d, "GET", "/many/", {"Accept-Encoding": "gzip"})
    pmtest.check_eq("gzip encoding", "gzip", r.getheader("Content-Encoding"))
    plain = gzip.decompress(body)
    r2, body2 = req(d, "GET", "/many/")
    pmtest.check("gzip body equals plain", plain == body2 and r2.getheader("Content-Encoding") is None)
    et = r.getheader("ETag")
    r3, _ = req(d, "GET", "/many/", {"Accept-Encoding": "gzip", "If-None-Match": et})
    pmtest.check_eq("listing 304", 304, r3.status)
    p = d.curl("--compressed", "-o", "/dev/null", "-w", "%{size_download} %{http_code}", path="/many/")
    pmtest.check("curl --compressed", p.stdout.endswith(b" 200") and int(p.stdout.split()[0]) < len(body2),
                 p.stdout)

    # A change shows up (new generation, cache dropped).
    with open(os.path.join(big, "zz-new.dat"), "wb") as f:
        f.write(b"new")
    seen = False
    for _ in range(100):
        r, body = req(d, "GET", "/many/")
        if b"zz-new.dat" in body:
            seen = True
            break
        time.sleep(0.1)
    pmtest.check("listing follows the tree", seen)

    # Assets
    for a, t in (("style.css", "text/css"), ("filter.js", "text/javascript"), ("dir.svg", "image/svg+xml")):
        r, body = req(d, "GET", "/.pubmirror/" + a)
        pmtest.check("asset " + a, r.status == 200 and (r.getheader("Content-Type") or "").startswith(t)
                     and len(body) > 50)
    r, body = req(d, "GET", "/.pubmirror/nope.css")
    pmtest.check_eq("unknown asset 404", 404, r.status)
    r, body = req(d, "GET", "/")
    pmtest.check("README shown", b"pm-readme" in body)
    pmtest.check("hidden file absent", b".hidden" not in body)
pmtest.done()
