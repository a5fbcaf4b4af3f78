# Test PKI for the KMIP tests: a fleet CA, a KMIP server certificate (IP 127.0.0.1, serverAuth),
# an administrator's client certificate (clientAuth) and the bad ones the TLS negatives need.
# Usage: kmip-pki.py DIR. Keys are P-256, written unencrypted for the test only.
import datetime
import ipaddress
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)


def save(name, key, cert):
    with open("%s/%s.key" % (out, name), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open("%s/%s.pem" % (out, name), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - day).not_valid_after(now + 30 * day)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def leaf(issuer, cn, eku, san=None, before=None, after=None):
    ikey, icert = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(icert.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(before or now - day).not_valid_after(after or now + 7 * day)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return key, b.sign(ikey, hashes.SHA256())


fleet = ca("vhsm test fleet CA")
other = ca("another CA")
save("ca", *fleet)
save("other-ca", *other)
server_san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("kmip.test")]
save("server", *leaf(fleet, "kmip.test", [ExtendedKeyUsageOID.SERVER_AUTH], server_san))
save("server-expired", *leaf(fleet, "kmip.test", [ExtendedKeyUsageOID.SERVER_AUTH], server_san,
                             before=now - 10 * day, after=now - day))
save("server-no-eku", *leaf(fleet, "kmip.test", None, server_san))
save("admin", *leaf(fleet, "fleet-admin", [ExtendedKeyUsageOID.CLIENT_AUTH]))
save("admin-no-eku", *leaf(fleet, "fleet-admin", [ExtendedKeyUsageOID.SERVER_AUTH]))
save("admin-other-ca", *leaf(other, "fleet-admin", [ExtendedKeyUsageOID.CLIENT_AUTH]))
save("admin-expired", *leaf(fleet, "fleet-admin", [ExtendedKeyUsageOID.CLIENT_AUTH],
                            before=now - 10 * day, after=now - day))
# CVM identities for the fleet sync tests (the certificate an enrolled CVM would hold).
for cvm in ("cvm-a", "cvm-b", "cvm-fleet"):
    save(cvm, *leaf(fleet, cvm, [ExtendedKeyUsageOID.CLIENT_AUTH]))
