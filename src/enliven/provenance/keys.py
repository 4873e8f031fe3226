"""The key and certificate that sign Enliven's C2PA manifests.

On first use a local identity is generated into the user's config directory:

``signing-key.pem``
    The leaf's private key (EC P-256, PKCS#8 PEM), mode 0600.
``signing-cert.pem``
    The certificate chain given to C2PA: the leaf, then the local CA.
``signing-ca.pem``
    The local CA certificate alone, for a verifier that wants to trust this
    installation (c2pa's ``trust.user_anchors``).

The CA's private key is discarded once the leaf is issued, so the CA can never
certify anything else. c2pa accepts a self-signed end-entity certificate too,
but a CA + leaf pair is what C2PA validators expect of a trust anchor. The leaf
follows the C2PA certificate profile: X.509 v3, ECDSA with SHA-256 on P-256, not
a CA, digitalSignature key usage only, the emailProtection EKU, and subject and
authority key identifiers. Names carry no user or host name: a manifest must not
identify the person who made the video.

Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from enliven.errors import ConfigError, InputError, OutputError

log = logging.getLogger(__name__)

KEY_FILE = "signing-key.pem"
CERT_FILE = "signing-cert.pem"
CA_FILE = "signing-ca.pem"
_LOCK_FILE = ".signing.lock"
ENV_CONFIG_DIR = "ENLIVEN_CONFIG_DIR"

# No time-stamp authority can be reached offline, so C2PA validators check the
# certificate against the time of *reading*: once it expires, every file it signed
# reads as invalid. Hence a long validity rather than the usual one to three years.
_VALIDITY = dt.timedelta(days=20 * 365)
_BACKDATE = dt.timedelta(days=1)  # tolerate a reader's clock that runs behind
_ORGANIZATION = "Enliven (self-issued, not verified)"


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and its certificate chain, ready for c2pa.

    key_pem : the private key, unencrypted PKCS#8 PEM.
    cert_chain_pem : PEM certificates, the signing (leaf) certificate first.
    algorithm : c2pa's name of the signature algorithm: "es256", "es384",
        "es512", "ps256" or "ed25519".
    """

    key_pem: bytes = field(repr=False)
    cert_chain_pem: bytes
    algorithm: str


def config_dir() -> Path:
    """Enliven's per-user configuration directory (not created here).

    ``$ENLIVEN_CONFIG_DIR`` if set, else ``$XDG_CONFIG_HOME/enliven`` (when that
    is an absolute path), else ``~/.config/enliven``.
    """
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "enliven"
    return Path.home() / ".config" / "enliven"


def load_or_create_identity(
    key_path: Path | None = None,
    cert_path: Path | None = None,
    *,
    directory: Path | None = None,
) -> SigningIdentity:
    """Return the identity that signs manifests, generating one on first use.

    Parameters
    ----------
    key_path, cert_path : Path, optional
        An explicit private key (PEM, unencrypted) and certificate chain (PEM,
        signing certificate first), e.g. from ``--sign-key``/``--sign-cert``.
        Give both or neither.
    directory : Path, optional
        Where the local identity lives; default :func:`config_dir`. Ignored when
        explicit files are given.

    Returns
    -------
    SigningIdentity

    Raises
    ------
    ConfigError
        If only one of ``key_path`` and ``cert_path`` is given.
    InputError
        If a key or certificate file is missing, unreadable, encrypted, of an
        unsupported type, or the key does not belong to the certificate.
    OutputError
        If a new identity cannot be written to ``directory``.
    """
    if (key_path is None) != (cert_path is None):
        raise ConfigError(
            "signing needs both a key and a certificate; pass both --sign-key "
            "and --sign-cert, or neither to use the local identity"
        )
    if key_path is not None and cert_path is not None:
        return _load(Path(key_path), Path(cert_path))

    directory = Path(directory) if directory is not None else config_dir()
    key_file, cert_file = directory / KEY_FILE, directory / CERT_FILE
    _make_private_dir(directory)
    # Several worker processes may start at once: one generates, the others wait.
    with _locked(directory):
        have_key, have_cert = key_file.exists(), cert_file.exists()
        if have_key and have_cert:
            identity = _load(key_file, cert_file)
            if not _expired(identity):
                return identity
            log.warning(
                "the local signing certificate in %s has expired; generating a new one",
                directory,
            )
        elif have_key or have_cert:
            present, missing = (
                (key_file, cert_file) if have_key else (cert_file, key_file)
            )
            raise InputError(
                f"cannot load the signing identity: {present} exists but {missing} "
                f"is missing; delete {present} to generate a new identity, or pass "
                "--sign-key and --sign-cert"
            )
        identity, ca_pem = _generate()
        _write(directory / CA_FILE, ca_pem, mode=0o644)
        _write(cert_file, identity.cert_chain_pem, mode=0o644)
        _write(key_file, identity.key_pem, mode=0o600)  # last: it marks completion
    log.info("generated a local C2PA signing identity in %s", directory)
    return identity


# ------------------------------------------------------------------ generation


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
        ]
    )


def _key_usage(*, sign: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _generate() -> tuple[SigningIdentity, bytes]:
    """A fresh local CA and leaf; returns the identity and the CA's PEM."""
    now = dt.datetime.now(dt.timezone.utc)
    start, end = now - _BACKDATE, now + _VALIDITY
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Enliven local CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Enliven local signer"))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    identity = SigningIdentity(
        key_pem=_pkcs8(leaf_key),
        cert_chain_pem=leaf.public_bytes(pem) + ca_pem,
        algorithm="es256",
    )
    return identity, ca_pem


# --------------------------------------------------------------------- loading


def _pkcs8(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read(path: Path, what: str) -> bytes:
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "file not found"
        raise InputError(f"cannot read signing {what} {path}: {reason}; check the path")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read signing {what} {path}: {exc.strerror or exc}; "
            "check its permissions"
        ) from exc


def _algorithm(key: object, path: Path) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
        raise InputError(
            f"cannot use signing key {path}: EC curve {key.curve.name} is not allowed "
            "by C2PA; use P-256, P-384 or P-521"
        )
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise InputError(
                f"cannot use signing key {path}: RSA keys need at least 2048 bits "
                f"for C2PA, this one has {key.key_size}"
            )
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise InputError(
        f"cannot use signing key {path}: {type(key).__name__} keys are not "
        "supported by C2PA; use an EC P-256, RSA or Ed25519 key"
    )


def _load(key_path: Path, cert_path: Path) -> SigningIdentity:
    key_bytes = _read(key_path, "key")
    cert_bytes = _read(cert_path, "certificate")
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except TypeError as exc:  # encrypted and no password given
        raise InputError(
            f"cannot use signing key {key_path}: it is encrypted; decrypt it first "
            "(openssl pkcs8 -topk8 -nocrypt)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(
            f"cannot use signing key {key_path}: not a PEM private key ({exc}); "
            "give an unencrypted PEM key"
        ) from exc
    try:
        certs = x509.load_pem_x509_certificates(cert_bytes)
    except ValueError as exc:
        raise InputError(
            f"cannot use signing certificate {cert_path}: not a PEM certificate chain "
            f"({exc}); give PEM certificates, the signing certificate first"
        ) from exc
    algorithm = _algorithm(key, key_path)
    if certs[0].public_key() != key.public_key():  # type: ignore[union-attr]
        raise InputError(
            f"signing key {key_path} does not belong to the first certificate in "
            f"{cert_path}; put the signing certificate first, or pass the matching key"
        )
    pem = serialization.Encoding.PEM
    return SigningIdentity(
        key_pem=_pkcs8(key),  # normalized: c2pa reads PKCS#8 only
        cert_chain_pem=b"".join(c.public_bytes(pem) for c in certs),
        algorithm=algorithm,
    )


def _expired(identity: SigningIdentity) -> bool:
    leaf = x509.load_pem_x509_certificate(identity.cert_chain_pem)
    return leaf.not_valid_after_utc <= dt.datetime.now(dt.timezone.utc)


# --------------------------------------------------------------------- writing


def _make_private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the config directory {directory} for the signing key "
            f"({exc.strerror or exc}); set {ENV_CONFIG_DIR} or pass --sign-key "
            "and --sign-cert"
        ) from exc
    if not directory.is_dir():
        raise OutputError(
            f"cannot keep the signing key in {directory}: it is not a directory; "
            f"set {ENV_CONFIG_DIR} to another place"
        )


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` across processes (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; a lost race only wastes a key.
        yield
        return
    try:
        fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OutputError(
            f"cannot write to {directory} ({exc.strerror or exc}); set "
            f"{ENV_CONFIG_DIR} to a writable directory or pass --sign-key and "
            "--sign-cert"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, created with ``mode`` from the start."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise OutputError(
            f"cannot write {path} ({exc.strerror or exc}); set {ENV_CONFIG_DIR} to "
            "a writable directory or pass --sign-key and --sign-cert"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp made it 0600 already
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(
            f"cannot write {path} ({exc.strerror or exc}); check free disk space"
        ) from exc
