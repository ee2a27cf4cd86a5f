//! A tiny `GET /metrics` responder on a loopback address.
//!
//! Why not an HTTP crate: the endpoint answers one fixed path to one local
//! scraper; a few dozen lines over tokio's TCP listener do it, with bounded
//! request size and time, where hyper or axum would add a stack of
//! dependencies (and their audit) for nothing the scraper needs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Metrics;

/// A request head larger than this is refused.
const MAX_REQUEST: usize = 8 * 1024;
/// A client slower than this is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` now (so that a taken port fails the start), then serves in
/// the background for as long as the runtime runs.
pub async fn serve(
    addr: std::net::SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("metrics.listen: cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let metrics = metrics.clone();
                    tokio::spawn(async move {
                        let answered =
                            tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &metrics)).await;
                        if let Ok(Err(e)) = answered {
                            tracing::debug!(error = %e, "metrics client");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(bound)
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return respond(&mut stream, "431 Request Header Fields Too Large", "").await;
        }
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    match (parts.next(), parts.next()) {
        (Some(b"GET"), Some(b"/metrics")) => {
            let body = metrics.render(chrono::Utc::now());
            respond(&mut stream, "200 OK", &body).await
        }
        (Some(b"GET"), _) => respond(&mut stream, "404 Not Found", "try /metrics\n").await,
        _ => respond(&mut stream, "405 Method Not Allowed", "").await,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Writes the metrics for node_exporter's textfile collector: to a
/// temporary file beside it, then renamed, so the collector never reads half.
pub fn write_textfile(path: &std::path::Path, metrics: &Metrics) -> Result<()> {
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, metrics.render(chrono::Utc::now()))
        .with_context(|| format!("metrics.textfile: cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("metrics.textfile: cannot replace {}", path.display()))?;
    Ok(())
}
