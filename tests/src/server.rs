//! Listeners and connections: TLS, reading the first request head to find its fault, then
//! either hyper (normal exchanges) or the raw writer (byte-level faults).
//!
//! Every connection carries exactly one request: hyper runs with keep-alive off and the raw
//! writer always closes. That way a request's fault SPEC is known from its head before any
//! server side reads its body, and a keep-alive connection can never carry a request whose
//! fault the chosen side cannot produce.
//!
//! At most `Limits::max_connections` connections are served at once (the accept loop waits for
//! a free slot); the TLS handshake and the request head share one `Limits::head_timeout`; a
//! request that its head alone refuses (no credentials, a body over the limit) is answered
//! before any body byte is read.

use crate::api::{self, Outcome, Shared};
use crate::fault::{FAULT_HEADER, FaultSpec, split_path};
use crate::raw::{self, HeadError};
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// Accepts connections on both listeners until `stop` fires.
pub async fn run(
    shared: Arc<Shared>,
    https: TcpListener,
    http: Option<TcpListener>,
    tls: TlsAcceptor,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
    loop {
        // A slot first: at the cap, new connections wait in the kernel's listen queue.
        let slot = tokio::select! {
            _ = &mut stop => return,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = &mut stop => return,
            r = https.accept() => r.map(|(s, _)| (s, true)),
            r = async {
                match &http {
                    Some(l) => l.accept().await,
                    None => std::future::pending().await,
                }
            } => r.map(|(s, _)| (s, false)),
        };
        let (tcp, is_tls) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("tpns-emulator: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let head_deadline = Instant::now() + shared.limits.head_timeout;
            if is_tls {
                let handshake = tokio::time::timeout_at(head_deadline, tls.accept(tcp)).await;
                if let Ok(Ok(stream)) = handshake {
                    serve_connection(stream, shared, head_deadline).await;
                }
            } else {
                serve_connection(tcp, shared, head_deadline).await;
            }
            drop(slot);
        });
    }
}

/// The SPEC of a request: path prefix, else header, else the start flag. `Err` for a SPEC
/// that does not parse, or a new `times=N` SPEC when the budget table is full.
fn fault_of(
    shared: &Shared,
    prefix: Option<&str>,
    head: &raw::RequestHead,
) -> Result<FaultSpec, String> {
    let header = head
        .headers
        .get(FAULT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (text, spec) = match (prefix, header) {
        (Some(p), _) => (p.to_owned(), FaultSpec::parse(p)?),
        (None, Some(h)) => {
            let f = FaultSpec::parse(&h)?;
            (h, f)
        }
        (None, None) => match &shared.global_fault {
            Some((t, f)) => (t.clone(), f.clone()),
            None => return Ok(FaultSpec::default()),
        },
    };
    match shared.budget.admit(&text, &spec) {
        Ok(true) => Ok(spec),
        Ok(false) => Ok(FaultSpec::default()),
        Err(full) => Err(full.to_string()),
    }
}

async fn serve_connection<IO>(mut io: IO, shared: Arc<Shared>, head_deadline: Instant)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let head = match tokio::time::timeout_at(head_deadline, raw::read_head(&mut io, &mut buf)).await
    {
        Ok(Ok(h)) => h,
        Ok(Err(HeadError::Malformed(m))) => {
            return raw::answer_and_close(io, 400, &format!("bad request head: {m}")).await;
        }
        Ok(Err(HeadError::TooLarge)) => {
            return raw::answer_and_close(io, 431, "request head too large").await;
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return,
    };
    let (prefix, path) = split_path(&head.target);
    let path = path.to_owned();
    let fault = match fault_of(&shared, prefix, &head) {
        Ok(f) => f,
        Err(e) => return raw::answer_and_close(io, 400, &format!("fault SPEC refused: {e}")).await,
    };
    if fault.is_raw() {
        return raw::serve_one(io, buf, head, &path, &fault, &shared).await;
    }
    // Faults that answer for the endpoint (status, rate-limit) come first, as in api::handle.
    if fault.status.is_none()
        && !fault.rate_limit
        && let Some(reply) = api::refuse_early(&shared, &head.method, &path, &head.headers)
    {
        // Answered here, before hyper sees the request: no body byte is read and no
        // `100 Continue` invites one.
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        if raw::write_reply(&mut io, &reply, &FaultSpec::default())
            .await
            .is_ok()
        {
            raw::linger_close(io).await;
        }
        return;
    }
    drop(head);
    let rewind = Rewind {
        pre: buf.freeze(),
        inner: io,
    };
    let fault = Arc::new(fault);
    let service = service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let fault = fault.clone();
        async move { serve_hyper(req, &shared, &fault).await }
    });
    let exchange = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(rewind), service)
        .without_shutdown()
        .await;
    // An answer may go out before the body was read (a body over a limit, or too slow): close
    // as the raw side does, so unread request bytes do not reset the connection before the
    // client has read the answer. A failed exchange (Outcome::Drop) just drops the connection.
    if let Ok(parts) = exchange {
        raw::linger_close(parts.io.into_inner()).await;
    }
}

async fn serve_hyper(
    req: Request<Incoming>,
    shared: &Shared,
    fault: &FaultSpec,
) -> io::Result<Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let (_, path) = split_path(parts.uri.path());
    let body = Box::pin(body.into_data_stream().map_err(io::Error::other));
    match api::handle(shared, &parts.method, path, &parts.headers, body, fault).await {
        Outcome::Reply(r) => Response::builder()
            .status(r.status)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::SERVER, "tpns-emulator")
            .body(Full::new(Bytes::from(r.body)))
            .map_err(io::Error::other),
        // An error from the service makes hyper close the connection without an answer.
        Outcome::Drop => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "request body could not be read",
        )),
    }
}

/// A stream that first yields bytes already read from it (the peeked head), then the rest.
#[derive(Debug)]
struct Rewind<IO> {
    pre: Bytes,
    inner: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            let head = self.pre.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
