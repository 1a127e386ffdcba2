//! The process's TLS trust (`acd_connectors::http`): CA roots compiled in (no system CA files read at start), used
//! by the vendor client and by the AWS SDK's HTTP client. A TLS server whose certificate no public CA signed must be
//! refused by both — the server sees the client abort the handshake over the certificate. Both also offer the hybrid
//! post-quantum key exchange first (aws-lc-rs; the reason the TLS provider is not `ring`, see the README).

use std::sync::Arc;
use std::time::Duration;

use acd_connectors::http::{CallCounter, Deadline, HttpClient, sdk_http_client, tls_root_certs, tls_trust_anchors};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;

const CERT: &[u8] = include_bytes!("fixtures/tls/self-signed-localhost.pem");
const KEY: &[u8] = include_bytes!("fixtures/tls/self-signed-localhost.key");

/// A TLS server on a free port with a self-signed certificate for `localhost`; reports each handshake's outcome.
async fn untrusted_server() -> (u16, mpsc::UnboundedReceiver<Result<(), String>>) {
    let cert = CertificateDer::from_pem_slice(CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let outcome = acceptor.accept(stream).await.map(|_| ()).map_err(|e| e.to_string());
            let _ = tx.send(outcome);
        }
    });
    (port, rx)
}

/// A TCP server on a free port that reads each connection's TLS ClientHello and reports the key-exchange groups it
/// offers, in the client's order (then drops the connection).
async fn hello_reader() -> (u16, mpsc::UnboundedReceiver<Vec<rustls::NamedGroup>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            if let Ok(start) = acceptor.await {
                let _ = tx.send(start.client_hello().named_groups().unwrap_or_default().to_vec());
            }
        }
    });
    (port, rx)
}

async fn first_hello(rx: &mut mpsc::UnboundedReceiver<Vec<rustls::NamedGroup>>) -> Vec<rustls::NamedGroup> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a ClientHello").expect("the server runs")
}

#[tokio::test]
async fn both_clients_offer_the_post_quantum_key_exchange_first() {
    let (port, mut hellos) = hello_reader().await;
    let client = HttpClient::new().unwrap();
    let request = client.reqwest().get(format!("https://localhost:{port}/"));
    let _ = client.send(request, Deadline::after(Duration::from_secs(10)), &CallCounter::default()).await;
    let vendor = first_hello(&mut hellos).await;
    assert_eq!(vendor.first(), Some(&rustls::NamedGroup::X25519MLKEM768), "vendor client offers {vendor:?}");

    let _ = sts_client(port).get_caller_identity().send().await;
    let sdk = first_hello(&mut hellos).await;
    assert_eq!(sdk.first(), Some(&rustls::NamedGroup::X25519MLKEM768), "SDK client offers {sdk:?}");
    // The classical group stays on offer for servers without ML-KEM.
    assert!(vendor.contains(&rustls::NamedGroup::X25519) && sdk.contains(&rustls::NamedGroup::X25519));
}

/// An SDK client (STS: small) with the process's HTTP client, pointed at a local TLS server, no retries.
fn sts_client(port: u16) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("https://localhost:{port}"))
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

async fn first_handshake(rx: &mut mpsc::UnboundedReceiver<Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a handshake").expect("the server runs")
}

#[test]
fn the_compiled_in_roots_are_mozillas_public_cas() {
    let roots = tls_root_certs();
    assert!(roots.len() >= 100, "{} roots", roots.len());
    // The CAs of AWS's endpoints and of the vendors' APIs.
    for name in ["Amazon Root CA 1", "DigiCert Global Root G2", "ISRG Root X1"] {
        assert!(
            roots.iter().any(|c| c.as_ref().windows(name.len()).any(|w| w == name.as_bytes())),
            "{name} is not among the roots"
        );
    }
    // Every root is usable by rustls (none is dropped when the store is built).
    let mut store = rustls::RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(roots.iter().cloned());
    assert_eq!((added, ignored), (roots.len(), 0));
}

#[test]
fn the_vendor_clients_trust_anchors_are_the_same_roots_as_the_sdks_certificates() {
    // The vendor client takes the anchors pre-extracted (`webpki-roots`), the SDK's client the certificates
    // (`webpki-root-certs`, as PEM): the same roots, or one client would trust a CA the other does not.
    let key = |a: &rustls::pki_types::TrustAnchor<'_>| {
        (a.subject.as_ref().to_vec(), a.subject_public_key_info.as_ref().to_vec())
    };
    let mut from_certs: Vec<_> = tls_root_certs()
        .iter()
        .map(|c| key(&webpki::anchor_from_trusted_cert(c).expect("a root certificate rustls can use")))
        .collect();
    let mut anchors: Vec<_> = tls_trust_anchors().iter().map(key).collect();
    from_certs.sort();
    anchors.sort();
    assert_eq!(anchors.len(), from_certs.len());
    assert!(anchors == from_certs, "the two crates list different roots: align their versions");
}

#[tokio::test]
async fn the_vendor_client_refuses_a_certificate_no_public_ca_signed() {
    let (port, mut handshakes) = untrusted_server().await;
    let client = HttpClient::new().unwrap();
    let request = client.reqwest().get(format!("https://localhost:{port}/"));
    let result = client.send(request, Deadline::after(Duration::from_secs(10)), &CallCounter::default()).await;
    assert!(result.is_err(), "an untrusted certificate was accepted");
    let server_saw = first_handshake(&mut handshakes).await.expect_err("the handshake must fail");
    assert!(server_saw.contains("CertificateUnknown") || server_saw.contains("UnknownCA"), "{server_saw}");
}

#[tokio::test]
async fn the_sdk_client_refuses_a_certificate_no_public_ca_signed() {
    let (port, mut handshakes) = untrusted_server().await;
    let result = sts_client(port).get_caller_identity().send().await;
    assert!(result.is_err(), "an untrusted certificate was accepted");
    let server_saw = first_handshake(&mut handshakes).await.expect_err("the handshake must fail");
    assert!(server_saw.contains("CertificateUnknown") || server_saw.contains("UnknownCA"), "{server_saw}");
}
