"""Email to a relay that requires STARTTLS: the message goes encrypted, and a relay whose certificate is not trusted
gets nothing (the message waits for a retry, with the reason)."""

import datetime as dt
import ipaddress
import ssl

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kervan.core.testing import Mailbox, free_port
from kervan.messaging.channels.base import Outgoing, Sender, TransportError
from kervan.messaging.channels.email.transport import EmailTransport


def certificate(tmp_path, name: str):
    """A self-signed certificate for 127.0.0.1; returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_relay(tmp_path, settings):
    cert_path, key_path = certificate(tmp_path, "relay")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, True
    yield mailbox, cert_path
    controller.stop()


def message() -> Outgoing:
    return Outgoing(
        key="kervan-1", to="ayse@example.com", sender=Sender(address="shop@example.com"), subject="S", text="t"
    )


def test_mail_goes_over_starttls_to_a_trusted_relay(tls_relay, monkeypatch):
    mailbox, cert_path = tls_relay
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # the relay's certificate is what this machine trusts
    with EmailTransport() as transport:
        transport.send(message())
    assert [r.recipients for r in mailbox.received] == [["ayse@example.com"]]


def test_an_untrusted_relay_gets_nothing_and_the_message_waits(tls_relay, tmp_path, monkeypatch):
    mailbox, _ = tls_relay
    other, _ = certificate(tmp_path, "someone-else")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    with EmailTransport() as transport, pytest.raises(TransportError) as failed:
        transport.send(message())
    assert not failed.value.permanent and "certificate" in failed.value.reason.lower()
    assert mailbox.received == []
