# X.509 parsing and chain verification on both interpreters, over the chains that prep_x509.py
# made with pyca/cryptography (build/vectors/x509_chains.txt); tests/interop/test_x509_interop.py
# asks cryptography's and OpenSSL's verifiers about the same cases.
import os

from mptest import raises, unhex, vector_lines

from meterseal.crypto import der, x509
from meterseal.crypto.errors import DecodeError
from meterseal.crypto.x509 import ChainError

_FILE = "x509_chains.txt"


def _cases():
    """Yield (name, expect, now, usage, role, chain_hex, anchors_hex), one case at a time."""
    case = None
    for line in vector_lines(_FILE):
        if line.startswith("case "):
            if case is not None:
                yield case
            p = line.split()
            case = (p[1], p[2], None if p[3] == "-" else int(p[3]), int(p[4]) or None,
                    None if p[5] == "-" else p[5], [], [])
        else:
            case[5 if line[0] == "c" else 6].append(line[2:])
    if case is not None:
        yield case


def _case(name):
    for c in _cases():
        if c[0] == name:
            return c
    raise AssertionError("no case " + name)


def _stream(hexes):
    # The chain as an iterator that decodes one certificate at a time, as a board reading it
    # from flash or the serial link would.
    for h in hexes:
        yield unhex(h)


def _verify(c):
    return x509.verify_chain(_stream(c[5]), [unhex(a) for a in c[6]], c[2], c[3], c[4])


def test_chain_cases_match_expected_verdicts():
    seen = 0
    for c in _cases():
        try:
            leaf = _verify(c)
            got = "ok"
        except ChainError as e:
            got = e.reason
            assert "certificate " in str(e), str(e)
        assert got == c[1], "%s: expected %s, got %s" % (c[0], c[1], got)
        if got == "ok":
            assert leaf.subject_attr("O") == "MeterSeal Test"
        seen += 1
    assert seen >= 40


def test_leaf_info_returned():
    c = _case("role-among-several")
    leaf = _verify(c)
    assert leaf.roles == ["metrological-institute", "operator"]
    assert leaf.subject_attr("CN") == "m"
    assert leaf.issuer_attr("CN") == "Inter CA"
    assert leaf.curve().oid == x509.P256_OID
    pub = leaf.public_key()
    assert len(pub) == 65 and pub[0] == 4
    assert leaf.key_usage == x509.KU_DIGITAL_SIGNATURE
    assert not leaf.is_ca and leaf.path_len is None
    assert leaf.not_before == 1704067200  # 2024-01-01T00:00:00Z
    assert leaf.not_after == 2082758400  # 2036-01-01T00:00:00Z
    bp = _verify(_case("brainpool-depth2"))
    assert bp.curve().oid == x509.BRAINPOOLP256R1_OID
    assert bp.describe() == "CN=bp-meter"


def test_ca_fields_parsed():
    c = _case("path-length-ok")
    inter = x509.parse(unhex(c[5][2]))
    assert inter.is_ca and inter.path_len == 1
    assert inter.key_usage == x509.KU_KEY_CERT_SIGN | x509.KU_CRL_SIGN
    assert inter.roles is None
    assert inter.ski is not None and inter.aki is not None
    root = x509.parse(unhex(c[6][0]))
    assert root.self_issued() and root.aki is None
    # The intermediate's AKI is the root's SKI.
    assert inter.buf[inter.aki[0]:inter.aki[1]] == root.buf[root.ski[0]:root.ski[1]]
    assert x509.parse(unhex(_case("gentime-2050")[5][0])).not_after == 2556144000  # 2051-01-01


def test_error_names_depth_and_subject():
    with raises(ChainError) as e:
        _verify(_case("expired-inter"))
    assert e.value.reason == "expired" and e.value.depth == 1
    assert "certificate 1 (CN=Inter CA)" in str(e.value)
    with raises(ChainError) as e:
        _verify(_case("path-length-anchor"))
    assert e.value.depth == 2
    with raises(ChainError, match="certificate 0 (CN=m): role"):
        _verify(_case("role-other"))


def test_time_only_checked_when_given():
    c = _case("expired-leaf")
    with raises(ChainError, match="expired"):
        _verify(c)
    _verify(c[:2] + (None,) + c[3:])
    c = _case("not-yet-valid-leaf")
    _verify(c[:2] + (None,) + c[3:])
    leaf = x509.parse(unhex(c[5][0]))
    # Validity is inclusive at both ends (RFC 5280 4.1.2.5).
    _verify(c[:2] + (leaf.not_before,) + c[3:])
    with raises(ChainError, match="not-yet-valid"):
        _verify(c[:2] + (leaf.not_before - 1,) + c[3:])


def test_empty_chain_no_anchor_and_max_depth():
    c = _case("depth3")
    anchors = [unhex(a) for a in c[6]]
    with raises(ChainError, match="malformed"):
        x509.verify_chain([], anchors)
    with raises(ValueError):
        x509.verify_chain(_stream(c[5]), [])
    with raises(ChainError, match="path-length"):
        x509.verify_chain(_stream(c[5]), anchors, max_depth=2)
    x509.verify_chain(_stream(c[5]), anchors, max_depth=4)


def test_parse_rejects_unsupported_and_non_v3():
    with raises(DecodeError, match="unsupported-algorithm"):
        x509.parse(unhex(_case("sha384-signature")[5][0]))
    with raises(DecodeError, match="unsupported-algorithm"):
        x509.parse(unhex(_case("p384-leaf-key")[5][0]))
    with raises(DecodeError, match="critical-extension"):
        x509.parse(unhex(_case("unknown-critical-leaf")[5][0]))
    with raises(DecodeError, match="duplicate-extension"):
        x509.parse(unhex(_case("duplicate-extension")[5][0]))
    good = unhex(_case("depth1")[5][0])
    i = good.index(b"\xa0\x03\x02\x01\x02")
    v2 = good[:i] + b"\xa0\x03\x02\x01\x01" + good[i + 5:]
    with raises(DecodeError, match="version"):
        x509.parse(v2)
    with raises(DecodeError, match="trailing"):
        x509.parse(good + b"\x00")
    # ecdsa-with-SHA256 with NULL parameters, which RFC 5758 3.2 forbids: rebuild the outer
    # AlgorithmIdentifier by hand (the signature check would fail anyway; the parse must refuse).
    alg = der.encode_sequence(der.encode_oid(x509.ECDSA_WITH_SHA256_OID))
    alg_null = der.encode_sequence(der.encode_oid(x509.ECDSA_WITH_SHA256_OID), b"\x05\x00")
    s, e = der.read_all(good, der.SEQUENCE)
    _, _, te = der.read_tlv(good, s, e)
    assert good[te:te + len(alg)] == alg
    body = good[s:te] + alg_null + good[te + len(alg):]
    with raises(DecodeError, match="unsupported-algorithm"):
        x509.parse(der.encode_tlv(der.SEQUENCE, body))


def _valid_certs():
    c = _case("role-among-several")
    yield unhex(c[5][0])
    yield unhex(c[6][0])
    yield unhex(_case("brainpool-depth2")[5][0])


def test_every_truncation_raises_decode_error():
    for cert in _valid_certs():
        x509.parse(cert)
        mv = memoryview(cert)
        for n in range(len(cert)):
            with raises(DecodeError):
                x509.parse(mv[:n])


class _Lcg:
    # Deterministic pseudo-random numbers, the same under both interpreters.
    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def _scale():
    return int(os.getenv("METERSEAL_FUZZ_SCALE") or "1")


def test_mutated_certificates_raise_only_decode_error():
    rng = _Lcg(2024)
    for cert in _valid_certs():
        for _ in range(300 * _scale()):
            m = bytearray(cert)
            for _ in range(1 + rng.next(3)):
                m[rng.next(len(m))] = rng.next(256)
            try:
                x509.parse(m)
            except DecodeError:
                pass


def test_mutated_chains_raise_only_chain_error():
    rng = _Lcg(77)
    c = _case("depth2")
    leaf = unhex(c[5][0])
    inter = unhex(c[5][1])
    anchors = [unhex(a) for a in c[6]]
    accepted = 0
    for i in range(40 * _scale()):
        m = bytearray(leaf if i % 2 else inter)
        m[rng.next(len(m))] ^= 1 << rng.next(8)
        chain = [bytes(m), inter] if i % 2 else [leaf, bytes(m)]
        try:
            x509.verify_chain(chain, anchors, c[2], c[3], c[4])
            accepted += 1
        except ChainError as e:
            assert e.reason in ("malformed", "signature", "issuer", "unsupported-algorithm",
                                "critical-extension", "bad-key", "key-usage", "not-ca",
                                "path-length", "untrusted", "expired", "not-yet-valid", "role")
    # A flipped bit may land in the unsigned outer part only where DER has no slack at all:
    # every mutation of the signed bytes or the signature must be refused.
    assert accepted == 0, accepted


def test_random_garbage_raises_decode_error():
    rng = _Lcg(5)
    for i in range(500 * _scale()):
        n = rng.next(64)
        g = bytearray(rng.next(256) for _ in range(n))
        if i % 2 and n > 2:
            g[0] = 0x30  # looks like a SEQUENCE: go deeper before failing
            g[1] = n - 2
        with raises(DecodeError):
            x509.parse(g)


def test_name_helpers():
    cert = x509.parse(unhex(_case("depth1")[5][0]))
    assert cert.subject_attr("CN") == "meter-1"
    assert cert.subject_attr("serialNumber") is None
    assert cert.issuer_attr("CN") == "Root CA"
    assert cert.describe() == "CN=meter-1"
    with raises(ValueError):
        cert.subject_attr("XX")

