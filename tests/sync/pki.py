"""A throw-away PKI for broker tests: a CA, a server certificate for 127.0.0.1, client certificates
whose CN is the MQTT identity, and a CRL (generated with `cryptography`, EC P-256 keys)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


@dataclass
class Pki:
    directory: Path
    ca_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    revoked: list[x509.Certificate] = field(default_factory=list)
    issued: dict[str, x509.Certificate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("station test CA"))
            .issuer_name(_name("station test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.write_crl()

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def crl_file(self) -> Path:
        return self.directory / "crl.pem"

    def issue(self, cn: str, *, server: bool = False) -> tuple[Path, Path]:
        """Certificate and key files for `cn` (a station id or a platform identity)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        self.issued[cn] = cert
        cert_path, key_path = self.directory / f"{cn}.pem", self.directory / f"{cn}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path

    def revoke(self, cn: str) -> None:
        self.revoked.append(self.issued[cn])
        self.write_crl()

    def write_crl(self) -> None:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(days=1))
        )
        for cert in self.revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - timedelta(minutes=1))
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(self.ca_key, hashes.SHA256())
        self.crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
