# The few errors the crypto layer raises. A failed check always raises; nothing returns False.


class InvalidSignature(Exception):
    """A signature does not verify (or is malformed: wrong length, r or s out of range)."""


class InvalidTag(Exception):
    """A MAC or authentication tag does not match."""


class InvalidKey(ValueError):
    """A key or public point is malformed, not on the curve, or the point at infinity."""


class DecodeError(ValueError):
    """Malformed DER, CBOR or COSE input. args[0] is a short reason such as "truncated"."""
