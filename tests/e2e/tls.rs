//! HTTPS on the gateway listener, with the development self-signed certificate.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A gateway on HTTPS with its self-signed certificate and a one-second header read
/// timeout, and a client that trusts it and offers `alpn` (empty: none).
async fn https_gateway(alpn: &[&[u8]]) -> (std::net::SocketAddr, tokio_rustls::TlsConnector) {
    let mut config =
        scim_gateway::Config::for_tests("http://127.0.0.1:9".into(), "http://127.0.0.1:9".into());
    config.tls_self_signed = true;
    config.header_read_timeout_secs = 1;
    let verifier = scim_authn::test_support::TestIssuer::new().verifier();
    let server = scim_gateway::Server::build(&config, verifier)
        .await
        .expect("gateway starts");
    assert!(
        server.public_url().starts_with("https://"),
        "{}",
        server.public_url()
    );
    let pem = server
        .self_signed_certificate()
        .expect("a certificate was made")
        .to_owned();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM"))
        .expect("trust the certificate");
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (addr, tokio_rustls::TlsConnector::from(Arc::new(client)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_https_with_a_self_signed_certificate() {
    let (addr, connector) = https_gateway(&[]).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the self-signed certificate");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"ok\""), "{response}");

    // A plain-HTTP request on the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut buf),
    )
    .await;
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_completes_the_handshake_and_sends_nothing_is_closed() {
    // With and without HTTP/2 negotiated: either way hyper would wait for the first
    // bytes with no timeout of its own.
    for alpn in [&[][..], &[&b"h2"[..]][..], &[&b"http/1.1"[..]][..]] {
        let (addr, connector) = https_gateway(alpn).await;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake");
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), tls.read_to_end(&mut buf))
                .await;
        assert!(
            read.is_ok(),
            "ALPN {alpn:?}: the connection was still open after five seconds"
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(800),
            "ALPN {alpn:?}: closed before the timeout"
        );
    }
}
