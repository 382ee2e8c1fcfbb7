//! The connection loop: HTTP/1.1 over hyper with the limits `axum::serve` lacks.
//!
//! - a header timeout, so a slowloris client that trickles its request line and headers
//!   is cut off (hyper also applies it to an idle keep-alive connection waiting for its
//!   next request, which makes it the idle timeout as well);
//! - a cap on open connections, so many idle long-polls cannot exhaust descriptors: an
//!   accepted connection over the cap is closed at once and counted;
//! - accept errors (EMFILE and friends) back off instead of spinning;
//! - graceful shutdown: stop accepting, let in-flight requests finish (bounded), then
//!   return so the writers can flush and sync.
//!
//! The body timeout lives in the ingest handler, where a slow body can be told apart
//! from a slow disk.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest time to receive a request's headers, and the keep-alive idle time.
    pub header_timeout: Duration,
    /// Connections open at once; more are closed on accept.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests (long-polls included).
    pub drain: Duration,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    pub open: AtomicU64,
    pub refused: AtomicU64,
    pub accept_errors: AtomicU64,
}

/// One open connection in the gauge, for as long as it lives.
struct OpenConnection(Arc<ConnectionStats>);

impl OpenConnection {
    fn new(stats: Arc<ConnectionStats>) -> Self {
        stats.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(stats)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("peerscope serve: accept failed: {e}; backing off");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { Ok::<_, Infallible>(app.call(request).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        let open = OpenConnection::new(Arc::clone(&stats));
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, bad request line): nothing to do.
            let _ = connection.await;
            // Dropped however the task ends, a panicking handler included.
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "peerscope serve: requests still open after {:?}; stopping anyway",
            limits.drain
        );
    }
}
