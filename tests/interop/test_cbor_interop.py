"""The firmware's deterministic CBOR codec against cbor2 (a decoder and encoder we did not write).

Note on cbor2's `canonical=True`: it sorts map keys length-first (RFC 7049 section 3.9), while
RFC 8949 section 4.2.1 sorts by the bytes of the encoded keys. The two agree unless a shorter key
encoding has a larger first byte (e.g. -1 = 0x20 against 24 = 0x1818). So the exact-bytes reference
here is cbor2 itself with maps pre-ordered by the bytes of cbor2's own key encodings, and the
comparison with `canonical=True` is made only where both orders agree.
"""
import random
from collections.abc import Mapping

import cbor2
import pytest

from meterseal.crypto import cbor
from meterseal.crypto.errors import DecodeError

_TAGS = (6, 18, 61, 98, 1001, 70000, 2**33)  # none has a semantic decoder in cbor2
_INTS = (0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1)


def _rand_int(rng):
    r = rng.random()
    if r < 0.4:
        n = rng.choice(_INTS) + rng.choice((0, 0, -1, 1)) if rng.random() < 0.5 else rng.randrange(0, 1000)
    else:
        n = rng.randrange(0, 2 ** rng.choice((8, 16, 32, 64)))
    n = min(max(n, 0), 2**64 - 1)
    return n if rng.random() < 0.6 else -1 - n


def _rand_str(rng):
    alphabet = "az09_ -\u00fc\u20ac\u6c34\U00010151\U0010fffd"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 3, 23, 24, 30))))


def _rand_key(rng):
    return rng.choice((_rand_int, _rand_str, lambda r: r.randbytes(r.choice((0, 1, 5)))))(rng)


def _rand_value(rng, depth=0):
    kinds = ["int", "bytes", "str", "simple"]
    if depth < 4:
        kinds += ["list", "dict", "tag"]
    kind = rng.choice(kinds)
    if kind == "int":
        return _rand_int(rng)
    if kind == "bytes":
        return rng.randbytes(rng.choice((0, 1, 23, 24, 255, 256, 300)))
    if kind == "str":
        return _rand_str(rng)
    if kind == "simple":
        return rng.choice((True, False, None))
    if kind == "list":
        return [_rand_value(rng, depth + 1) for _ in range(rng.choice((0, 1, 2, 5, 24)))]
    if kind == "dict":
        return {_rand_key(rng): _rand_value(rng, depth + 1) for _ in range(rng.choice((0, 1, 3, 8)))}
    return cbor.Tag(rng.choice(_TAGS), _rand_value(rng, depth + 1))


def _to_cbor2(v, order_maps):
    """The same value in cbor2's types; maps re-ordered by the bytes of cbor2's key encodings."""
    if isinstance(v, cbor.Tag):
        return cbor2.CBORTag(v.tag, _to_cbor2(v.value, order_maps))
    if isinstance(v, list):
        return [_to_cbor2(x, order_maps) for x in v]
    if isinstance(v, dict):
        items = [(k, _to_cbor2(x, order_maps)) for k, x in v.items()]
        if order_maps:
            items.sort(key=lambda kv: cbor2.dumps(kv[0]))
        return dict(items)
    return v


def _from_cbor2(v):
    # cbor2 makes the contents of tags immutable (tuple, frozendict): back to list and dict.
    if isinstance(v, cbor2.CBORTag):
        return cbor.Tag(v.tag, _from_cbor2(v.value))
    if isinstance(v, (list, tuple)):
        return [_from_cbor2(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _from_cbor2(x) for k, x in v.items()}
    return v


def _same(a, b):
    """Equality that also checks types (plain == takes True for 1 and 1 for True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, cbor.Tag):
        return a.tag == b.tag and _same(a.value, b.value)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _contains_tag(v):
    if isinstance(v, cbor.Tag):
        return True
    if isinstance(v, list):
        return any(_contains_tag(x) for x in v)
    if isinstance(v, dict):
        return any(_contains_tag(x) for x in v.values())
    return False


def _orders_agree(v):
    # True when length-first (cbor2 canonical) and bytewise (RFC 8949) key orders coincide.
    if isinstance(v, cbor.Tag):
        return _orders_agree(v.value)
    if isinstance(v, list):
        return all(_orders_agree(x) for x in v)
    if isinstance(v, dict):
        encs = [cbor2.dumps(k) for k in v]
        if sorted(encs) != sorted(encs, key=lambda e: (len(e), e)):
            return False
        return all(_orders_agree(x) for x in v.values())
    return True


def test_random_values_match_cbor2():
    rng = random.Random(8949)
    agreed = 0
    for _ in range(1500):
        v = _rand_value(rng)
        ours = cbor.dumps(v)
        assert ours == cbor2.dumps(_to_cbor2(v, True))
        if _orders_agree(v):
            assert ours == cbor2.dumps(_to_cbor2(v, False), canonical=True)
            agreed += 1
        assert _same(_from_cbor2(cbor2.loads(ours)), v)
        assert _same(cbor.loads(ours), v)
    assert agreed > 500


def test_length_first_order_is_refused():
    # cbor2 canonical puts -1 (0x20) before 24 (0x1818); RFC 8949 4.2.1 puts 24 first.
    m = {24: "a", -1: "b"}
    length_first = cbor2.dumps(m, canonical=True)
    assert length_first.hex() == "a22061621818" "6161"
    with pytest.raises(DecodeError, match="unsorted"):
        cbor.loads(length_first)
    assert cbor.dumps(m).hex() == "a21818616120" "6162"


def test_cbor2_non_canonical_outputs_refused():
    rng = random.Random(7)
    refused = 0
    for _ in range(300):
        v = _rand_value(rng)
        c2 = _to_cbor2(v, False)
        for enc in (
            cbor2.dumps(c2, indefinite_containers=True),
            cbor2.dumps(_reverse_maps(c2)),
        ):
            if enc == cbor.dumps(v):
                continue  # nothing non-canonical in this value (no containers, or one key each)
            with pytest.raises(DecodeError):
                cbor.loads(enc)
            refused += 1
    assert refused > 100  # 161 with this seed
    for x in (1.5, 0.0, float("nan"), 2**64, -(2**64) - 1, [1.0]):
        with pytest.raises(DecodeError):
            v = cbor.loads(cbor2.dumps(x, canonical=True))
            # bignums (tags 2/3) decode as a plain Tag; the codec never turns them into ints
            assert isinstance(v, cbor.Tag)
            raise DecodeError("bignum stays a tag")


def _reverse_maps(v):
    if isinstance(v, cbor2.CBORTag):
        return cbor2.CBORTag(v.tag, _reverse_maps(v.value))
    if isinstance(v, list):
        return [_reverse_maps(x) for x in v]
    if isinstance(v, dict):
        items = sorted(((k, _reverse_maps(x)) for k, x in v.items()), key=lambda kv: cbor2.dumps(kv[0]))
        return dict(reversed(items))
    return v


def test_garbage_accepted_only_if_cbor2_agrees():
    rng = random.Random(42)
    accepted = 0
    for _ in range(20000):
        buf = rng.randbytes(rng.choice((1, 2, 3, 5, 9, 17)))
        try:
            v = cbor.loads(buf)
        except DecodeError:
            continue
        accepted += 1
        assert cbor.dumps(v) == buf
        if _contains_tag(v):
            continue  # cbor2 turns registered tags (dates, bignums, ...) into other objects
        assert _same(_from_cbor2(cbor2.loads(buf)), v)
    assert accepted > 500  # 970 with this seed
