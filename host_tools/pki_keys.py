"""Private keys of the certification authorities: the `Signer` interface, encrypted PKCS#8 files
and the passphrase (K1-K4).

Everything that signs a certificate or a CRL asks a `Signer` for `public_key()` and `sign(tbs)`;
nothing else touches a private key. `FileSigner` reads an encrypted PKCS#8 PEM file on first use;
an offline or HSM signer is any object with the same two methods (the idea of imgtool's
PayloadSigner/DigestSigner), handed to `Pki.use_signer()`.

Key files are written 0600 through a temporary file and an atomic rename, always encrypted
(PKCS#8 PBES2 at 600,000 PBKDF2-HMAC-SHA256 rounds, pkcs8.py), and never printed. The passphrase comes from --passphrase-file, the
environment (METERSEAL_CA_PASSPHRASE) or a getpass prompt, in that order.
"""
import getpass
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import ToolError

ENV_PASSPHRASE = "METERSEAL_CA_PASSPHRASE"
# Characters, for new key files: the KDF slows guessing down, the passphrase must still carry
# the strength.
MIN_PASSPHRASE = 12

CURVES = {"p256": ec.SECP256R1, "brainpoolP256r1": ec.BrainpoolP256R1}


class PkiError(ToolError):
    """The PKI could not do what was asked (exit 2): missing folder, wrong passphrase, bad input."""


def curve_by_name(name):
    try:
        return CURVES[name]()
    except KeyError:
        raise PkiError("unknown curve %r (known: %s)" % (name, ", ".join(CURVES))) from None


class Signer:
    """What a certification authority needs from its private key.

    public_key(): the cryptography EllipticCurvePublicKey certified for this authority.
    sign(tbs): the DER ECDSA-Sig-Value (RFC 3279 2.2.3) over SHA-256 of `tbs`, the to-be-signed
    bytes of a certificate or CRL. An HSM or offline signer implements just these two methods.
    sign_digest(digest): raw r||s over a SHA-256 digest made elsewhere: what COSE_Sign1 commands
    need (the same method the board's keystore signers offer). Only for signers that sign commands.
    """

    def public_key(self):
        raise NotImplementedError

    def sign(self, tbs):
        raise NotImplementedError

    def sign_digest(self, digest):
        raise NotImplementedError


class KeySigner(Signer):
    """A Signer over a private key held in memory (freshly generated, or loaded by FileSigner)."""

    def __init__(self, private_key):
        self._key = private_key

    def public_key(self):
        return self._key.public_key()

    def sign(self, tbs):
        return self._key.sign(bytes(tbs), ec.ECDSA(hashes.SHA256()))

    def sign_digest(self, digest):
        from cryptography.hazmat.primitives.asymmetric import utils

        der = self._key.sign(bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        r, s = utils.decode_dss_signature(der)
        size = (self._key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


class FileSigner(Signer):
    """A Signer over an encrypted PKCS#8 PEM file, decrypted on first use.

    passphrase: bytes, str, or a function returning one (asked only when the key is needed).
    """

    def __init__(self, path, passphrase):
        self.path = path
        self._passphrase = passphrase
        self._inner = None

    def _signer(self):
        if self._inner is None:
            pw = self._passphrase() if callable(self._passphrase) else self._passphrase
            self._inner = KeySigner(load_private_key(self.path, pw))
        return self._inner

    def public_key(self):
        return self._signer().public_key()

    def sign(self, tbs):
        return self._signer().sign(tbs)

    def sign_digest(self, digest):
        return self._signer().sign_digest(digest)


def check_signer(signer, tbs, signature):
    """Verify what a (possibly external) signer returned before it goes into a certificate."""
    try:
        signer.public_key().verify(signature, bytes(tbs), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as e:
        raise PkiError("the signer returned a signature its own public key does not verify "
                       "(wrong key or not a DER ECDSA-Sig-Value over SHA-256)") from e


def generate_key(curve):
    return ec.generate_private_key(curve)


def _as_bytes(passphrase):
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    if not passphrase:
        raise PkiError("empty passphrase")
    return passphrase


def save_private_key(path, key, passphrase):
    """Write `key` as encrypted PKCS#8 PEM, mode 0600, atomically; refuse to overwrite."""
    if os.path.exists(path):
        raise PkiError("%s exists already; not overwriting a private key" % path)
    from .pkcs8 import encrypt_pem

    write_file(path, encrypt_pem(key, _as_bytes(passphrase)), mode=0o600)


def load_private_key(path, passphrase):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PkiError("cannot read private key %s: %s" % (path, e.strerror)) from e
    try:
        key = serialization.load_pem_private_key(data, _as_bytes(passphrase))
    except (ValueError, TypeError) as e:
        raise PkiError("cannot decrypt %s: wrong passphrase?" % path) from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("%s is not an EC private key" % path)
    return key


def write_file(path, data, mode=0o644):
    """Write through a temporary file and rename, so a crash leaves the old file or the new one."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; never added any
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_passphrase(passphrase_file=None, confirm=False, what="CA passphrase", env=ENV_PASSPHRASE):
    """The passphrase from a file (first line), else $env, else an interactive prompt (twice when
    `confirm`, which also enforces MIN_PASSPHRASE: it protects a new key)."""
    if passphrase_file:
        try:
            with open(passphrase_file, "rb") as f:
                pw = f.read()
        except OSError as e:
            raise PkiError("cannot read passphrase file %s: %s" % (passphrase_file, e.strerror))
        pw = pw.split(b"\n", 1)[0].rstrip(b"\r")
        source = "passphrase file %s" % passphrase_file
    elif os.environ.get(env):
        pw = os.environ[env].encode("utf-8")
        source = env
    else:
        if not sys.stdin.isatty():
            raise PkiError("no %s: give --passphrase-file FILE or set %s" % (what, env))
        pw = getpass.getpass("%s: " % what.capitalize()).encode("utf-8")
        if confirm and getpass.getpass("%s again: " % what.capitalize()).encode("utf-8") != pw:
            raise PkiError("the two %ss differ" % what)
        source = "prompt"
    if not pw:
        raise PkiError("empty %s from %s" % (what, source))
    if confirm and len(pw) < MIN_PASSPHRASE:
        raise PkiError("%s from %s is shorter than %d characters" % (what, source, MIN_PASSPHRASE))
    return pw
