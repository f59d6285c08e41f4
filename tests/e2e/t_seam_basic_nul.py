"""Basic credentials are decoded with their lengths: a password with an
embedded NUL ("secret\\0junk") is not cut to "secret" and gets 401, a NUL
or control byte in the user name is refused, malformed base64 and a
missing ':' get 401; the right password still gets 200 and the access log
never shows a password.  Python's http.client over TLS sends the exact
bytes (curl cannot put a NUL in -u)."""
import base64
import http.client
import os
import ssl
import warnings

import pmtest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt


def get(d, path, auth=None):
    """(status, body) of GET path with the Authorization value auth."""
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", d.https_port, context=ctx, timeout=30)
    try:
        headers = {"Authorization": auth} if auth is not None else {}
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def basic(raw):
    return "Basic " + base64.b64encode(raw).decode()


with pmtest.Daemon(start=False) as d:
    af = os.path.join(d.tmp, "htpasswd")
    with open(af, "w") as f:
        f.write("alice:%s\n" % crypt.crypt("secret", crypt.mksalt(crypt.METHOD_SHA512)))
    os.chmod(af, 0o644)
    priv = os.path.join(d.root, "private")
    os.mkdir(priv)
    with open(os.path.join(priv, "data.txt"), "w") as f:
        f.write("members only\n")
    d.write_conf({"auth_file": af, "auth_paths": "/private", "ban_after": "0"})
    d.start()

    st, body = get(d, "/private/data.txt", basic(b"alice:secret"))
    pmtest.check_eq("right password: 200", 200, st)
    pmtest.check_eq("right password: body", b"members only\n", body)
    st, body = get(d, "/private/data.txt", basic(b"alice:secret\0junk"))
    pmtest.check_eq("password with a NUL (secret\\0junk) is not cut at the NUL: 401", 401, st)
    pmtest.check("no protected body after a NUL password", b"members only" not in body, body)
    st, _ = get(d, "/private/data.txt", basic(b"alice:secret\0"))
    pmtest.check_eq("password with a trailing NUL: 401", 401, st)
    st, _ = get(d, "/private/data.txt", basic(b"alice\0x:secret"))
    pmtest.check_eq("NUL in the user name: 401", 401, st)
    st, _ = get(d, "/private/data.txt", basic(b"ali\x01ce:secret"))
    pmtest.check_eq("control byte in the user name: 401", 401, st)
    st, _ = get(d, "/private/data.txt", basic(b"alicesecret"))
    pmtest.check_eq("no ':' between user and password: 401", 401, st)
    st, _ = get(d, "/private/data.txt", "Basic YWxpY2U6c2VjcmV0*")
    pmtest.check_eq("bad base64: 401", 401, st)
    st, _ = get(d, "/private/data.txt", basic(b"alice:" + b"x" * 1000))
    pmtest.check_eq("over-long password: 401", 401, st)
    st, _ = get(d, "/private/data.txt", basic(b"alice:secret"))
    pmtest.check_eq("right password still works afterwards: 200", 200, st)

    d.settle(d.access_log)
    with open(d.access_log, "rb") as f:
        log = f.read()
    pmtest.check("access log holds no password", b"secret" not in log and b"junk" not in log,
                 log[-600:])
    pmtest.check("failed logins logged", d.wait_log("auth: failure"), d.log_text()[-600:])

pmtest.done()
