"""Certificates and CRLs from files, PEM or DER, with errors a user can act on."""
from cryptography import x509

from .errors import ToolError


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ToolError("cannot read %s: %s" % (path, e.strerror)) from e


def load_certs(path, data=None):
    """The certificates of a PEM file (one or more) or a DER file, in file order."""
    data = read(path) if data is None else data
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise ToolError("%s holds no readable certificate: %s" % (path, e)) from e


def crl_in(path, data):
    """The CRL in a file's bytes (PEM or DER), or None if they hold something else."""
    if b"-----BEGIN X509 CRL-----" in data:
        try:
            return x509.load_pem_x509_crl(data)
        except ValueError as e:
            raise ToolError("%s holds no readable CRL: %s" % (path, e)) from e
    if b"-----BEGIN" not in data:
        try:
            return x509.load_der_x509_crl(data)
        except ValueError:
            pass  # perhaps a DER certificate
    return None


def load_crl(path):
    crl = crl_in(path, read(path))
    if crl is None:
        raise ToolError("%s holds no readable CRL" % path)
    return crl
