#!/usr/bin/env python3
"""Writes forms.tsv: each known secret, encoded by Python's standard library
(independent of the scrubber's own encoders) and embedded in a line.

Columns: case name, secret index, hex of the input line. Run from this
directory: python3 generate.py > forms.tsv
"""
import base64, json, urllib.parse

SECRETS = [
    b"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    'p@ss/w\u00f6rd "q" +tok=\\end'.encode(),
    b"-----BEGIN TEST KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3\n"
    b"XQOaQmr8ldjLgKq0zQFdS1lGwKeLkD4VLW1sqJfJx9C0dCmS3x5a8rpT2I\n-----END TEST KEY-----",
]

def cases(s):
    t = s.decode()
    yield "raw", b"token=" + s + b" rest"
    yield "reversed", b"x " + s[::-1] + b" y"
    yield "base64", base64.b64encode(s)
    yield "base64 unpadded", base64.b64encode(s).rstrip(b"=")
    yield "base64url", base64.urlsafe_b64encode(s)
    for prefix in (b"u:", b"us:", b"use:"):
        blob = base64.b64encode(prefix + s + b":tail")
        yield "base64 in a blob after %d bytes" % len(prefix), b"Authorization: Basic " + blob
        blob = base64.urlsafe_b64encode(b"{" + prefix + s + b"}")
        yield "base64url in a blob after %d bytes" % (len(prefix) + 1), b"jwt=" + blob
    yield "hex", b"digest " + s.hex().encode()
    yield "HEX", s.hex().upper().encode()
    yield "encodeURIComponent", ("q=" + urllib.parse.quote(t, safe="-_.!~*'()") + "&x=1").encode()
    yield "percent every byte", "".join("%%%02X" % b for b in s).encode()
    yield "percent every byte, lower", "".join("%%%02x" % b for b in s).encode()
    yield "json ascii", ('{"k": %s}' % json.dumps(t)).encode()
    yield "json unicode", ('{"k": %s}' % json.dumps(t, ensure_ascii=False)).encode()
    yield "json escaped slash", ('{"k": %s}' % json.dumps(t).replace("/", "\\/")).encode()
    yield "json every char", ('"' + "".join("\\u%04x" % ord(c) for c in t) + '"').encode()
    yield "hex escapes", ("b'" + "".join("\\x%02x" % b for b in s) + "'").encode()
    yield "HEX escapes", ("".join("\\x%02X" % b for b in s)).encode()
    if b"\n" in s:
        for i, line in enumerate(s.split(b"\n")[1:-1]):
            yield "line %d alone" % i, b"    " + line + b"\n"

for i, s in enumerate(SECRETS):
    for name, line in cases(s):
        print("%s\t%d\t%s" % (name, i, line.hex()))
