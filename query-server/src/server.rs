//! The HTTP server: our own accept loop in front of hyper's HTTP/1
//! connections, with warp's one filter as the service. The loop is ours so
//! that every limit a client could otherwise exhaust is the server's own
//! (it may face clients directly, with no proxy in front):
//!
//! - connections: at most `max_connections` in all and
//!   `max_connections_per_ip` from one client address (an IPv6 /64 is one
//!   address); past either, a connection is answered 503 and closed at
//!   once;
//! - rates: new connections per client address (a token bucket,
//!   `new_connections_*_per_ip`) are counted in the accept loop itself,
//!   and past the rate a connection is answered 429 and closed before a
//!   byte of it is read; requests per client address
//!   (`requests_*_per_ip`, the X-Forwarded-For client behind a trusted
//!   proxy) are counted as soon as hyper has read a request's head, and
//!   past the rate answered 429 (the connection closed) without routing,
//!   reading the body or touching a database. A flood from one address
//!   then costs the server an accept and a write, not a request;
//! - time: a request's headers must arrive within `header_timeout`, its
//!   body within `body_timeout` (else 408), and a connection with no
//!   request in flight and no bytes either way for `idle_timeout` is
//!   closed (a kept-alive connection, or one that never sent anything);
//! - size: bodies of POST and friends are capped at `MAX_BODY` (413), and
//!   hyper's read buffer at 64 KiB (`MAX_BUF`), which bounds the request
//!   line and headers to about twice that (431 past it: the edge review
//!   of 2026-12-06 had 100,000 bytes of headers answered and 140,000
//!   refused; hyper may read a head past a full buffer once).
//!
//! One filter turns every request into a plain `Req` and hands it to
//! `routes::handle`; one `recover` answers what that filter refuses, with
//! the same security headers as every other answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_util::{FutureExt, StreamExt};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use warp::http::{HeaderMap, Method, Request, StatusCode};
use warp::path::FullPath;
use warp::{Filter, Rejection, Reply};

use crate::app::App;
use crate::config::Networks;
use crate::http::{client_key, Req, Resp, MAX_BODY};
use crate::rate::{Limiter, MAX_CLIENTS};

/// hyper's read buffer; the request line and headers get about twice
/// this (see the module's notes).
const MAX_BUF: usize = 64 * 1024;

/// The connection's peer, for the filter (warp's own `addr::remote` is
/// set only by `warp::serve`).
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// The request body, read whole up to `MAX_BODY` within `timeout` (a
/// request without a body, whatever its method, has an empty one).
fn body(timeout: Duration) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::path::full().and(warp::body::stream()).and_then(
        move |path: FullPath, stream| async move {
            // The API's refusals are JSON, as its other errors.
            let api = crate::http::is_api(path.as_str());
            let refused = |why| warp::reject::custom(BodyRefused { why, api });
            match tokio::time::timeout(timeout, collect(stream)).await {
                Ok(body) => body.map_err(refused),
                Err(_) => Err(refused(BodyFault::Slow)),
            }
        },
    )
}

async fn collect<S, B>(stream: S) -> Result<Bytes, BodyFault>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = Box::pin(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| BodyFault::Unreadable)?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if out.len() + part.len() > MAX_BODY {
                return Err(BodyFault::TooLarge);
            }
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(out))
}

/// Why a request's body was refused before a handler ran.
#[derive(Debug, Clone, Copy)]
enum BodyFault {
    /// Over `MAX_BODY`.
    TooLarge,
    /// It did not arrive within `body_timeout`.
    Slow,
    /// It could not be read (a broken chunked encoding, a reset).
    Unreadable,
}

/// A body refused, and whether the request was the API's.
#[derive(Debug)]
struct BodyRefused {
    why: BodyFault,
    api: bool,
}
impl warp::reject::Reject for BodyRefused {}

/// The client's address: the peer's, or when the peer is a trusted proxy
/// (`trust_proxy` on and the peer in `trusted_proxies`; `proxies` is then
/// `Some`) the last hop of `X-Forwarded-For` across every line of it. A
/// proxy may add its own line below the client's, and the client's lines
/// say anything: only the last hop is the proxy's word, and only a proxy's.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, proxies: Option<&Networks>) -> IpAddr {
    if !proxies.is_some_and(|p| p.contains(peer)) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

/// Serves until `shutdown` resolves; then stops accepting (the listener is
/// closed: with SO_REUSEPORT, the other processes on the address take every
/// new connection) and lets the connections finish the requests in flight
/// within `server.drain_seconds`: each connection's next answer says
/// `Connection: close` and ends it; between requests a connection stays
/// open until then, or until idle for `idle_timeout`, as it would have;
/// what is still open after the drain is dropped. Closed between
/// requests, a kept-alive connection could be cut under a request its
/// client had just written, and a proxy's (nginx's `keepalive`) answered
/// its own 502, a POST lost (it does not send one again); told to stop
/// before its first request, one accepted just before SIGTERM lost the
/// request its client was sending.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let s = &app.cfg.server;
    let (header_timeout, body_timeout, idle_timeout) =
        (s.header_timeout, s.body_timeout, s.idle_timeout);
    let proxies = s.trust_proxy.then(|| Arc::new(s.trusted_proxies.clone()));
    let https = app.https;
    let handler = Arc::clone(&app);
    let filter = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<Peer>())
        .and(body(body_timeout))
        .then(
            move |method: Method,
                  path: FullPath,
                  query: String,
                  headers: HeaderMap,
                  peer: Option<Peer>,
                  body: Bytes| {
                let app = Arc::clone(&handler);
                let proxies = proxies.clone();
                async move {
                    let peer = peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.0.ip());
                    let req = Req {
                        ip: client_ip(&headers, peer, proxies.as_deref()),
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        body: body.to_vec(),
                    };
                    crate::routes::handle(app, req).await.into_response()
                }
            },
        )
        .recover(move |r| recover(r, https));
    let service = TowerToHyperService::new(warp::service(filter));
    let requests = s
        .requests_per_ip
        .map(|rate| Arc::new(Limiter::new(rate, MAX_CLIENTS)));
    let request_proxies = s.trust_proxy.then(|| Arc::new(s.trusted_proxies.clone()));
    let conns = Arc::clone(&app.conns);
    let sweeping = Arc::clone(&conns);
    let swept = requests.clone();
    tokio::spawn(async move {
        // Buckets that have refilled are the same as none: memory.
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            sweeping.sweep();
            if let Some(l) = &swept {
                l.sweep(Instant::now());
            }
        }
    });
    // Tells every connection the server is stopping; each holds a
    // receiver until it ends, so the drain waits for them all.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let serve_one = |stream: TcpStream, peer: SocketAddr| {
        let slot = match conns.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                app.metrics.connection_refused(why);
                refuse(&stream, https, why);
                return;
            }
        };
        let stop = stop.clone();
        // The server stopping: each answer from then on ends its
        // connection (`Connection: close`), said in the answer itself.
        let stopping = stop.clone();
        let service = service.clone();
        let (requests, proxies) = (requests.clone(), request_proxies.clone());
        let site = Arc::clone(&app);
        tokio::spawn(async move {
            let _slot = slot;
            let activity = Arc::new(Activity::new());
            let busy = Arc::clone(&activity);
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                let request = busy.request();
                // Counted on the head alone: a request over the rate is
                // answered before its body is read or anything is routed.
                let limited = requests.as_ref().and_then(|l| {
                    let ip = client_ip(req.headers(), peer.ip(), proxies.as_deref());
                    l.take(ip, Instant::now()).err()
                });
                let api = crate::http::is_api(req.uri().path());
                // A target with no path (`CONNECT host:port`) is refused
                // here: warp's path filter panics on one (the security
                // review of 2026-12-07; `no_path`).
                let pathless = req.uri().path_and_query().is_none();
                let answer = match limited {
                    None if !pathless => Some(hyper::service::Service::call(&service, req)),
                    _ => None,
                };
                let site = Arc::clone(&site);
                let stopping = stopping.clone();
                async move {
                    let mut r = match (answer, limited) {
                        (Some(answer), _) => answer.await,
                        (None, None) => {
                            site.metrics.request("no-path", 405, Duration::ZERO);
                            Ok(no_path(https))
                        }
                        (None, limited) => {
                            let wait = limited.map_or(1, |l| l.retry_after);
                            site.metrics.request("rate-limited", 429, Duration::ZERO);
                            Ok(too_many_requests(https, wait, api))
                        }
                    };
                    if *stopping.borrow() {
                        if let Ok(answer) = &mut r {
                            answer.headers_mut().insert(
                                warp::http::header::CONNECTION,
                                warp::http::HeaderValue::from_static("close"),
                            );
                        }
                    }
                    drop(request);
                    r
                }
            });
            let io = TokioIo::new(Watched {
                stream,
                activity: Arc::clone(&activity),
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_BUF)
                .keep_alive(true)
                .serve_connection(io, service);
            // Stopping changes nothing here: the next answer ends the
            // connection (above), and one without a request is closed
            // once idle, as ever, or dropped at the drain's end.
            let ended = tokio::select! {
                done = conn => Some(done),
                () = idle(&activity, idle_timeout) => None,
            };
            match ended {
                Some(Err(e)) => tracing::debug!("connection from {peer}: {e}"),
                None => tracing::debug!("closing an idle connection from {peer}"),
                Some(Ok(())) => {}
            }
            drop(stop);
        });
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of files, most likely: the connections already
                    // open still get served meanwhile.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        serve_one(stream, peer);
    }
    // Closing the listener resets the connections the kernel queued for it
    // and nobody accepted yet: take those first. (Those that arrive
    // between the last accept and the close are still reset: with a proxy
    // in front, proxy_next_upstream sends them elsewhere.)
    while let Some(Ok((stream, peer))) = listener.accept().now_or_never() {
        serve_one(stream, peer);
    }
    drop(listener);
    drop(stop);
    let drain = app.cfg.server.drain;
    let open = app.conns.open();
    tracing::info!(
        "draining {open} connections (at most {} s)",
        drain.as_secs()
    );
    stopping.send_replace(true);
    if tokio::time::timeout(drain, stopping.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connections still open after {} s: dropped",
            app.conns.open(),
            drain.as_secs()
        );
    }
}

/// The listening socket: SO_REUSEADDR, and SO_REUSEPORT when asked, so a
/// new process can bind the address while the old one still serves (Linux
/// spreads new connections across every socket bound to it, and allows
/// that only to sockets of the same user).
pub fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// What the filter refused before a handler ran: a body too large, too
/// slow, or unreadable. The same security headers as every other answer.
async fn recover(r: Rejection, https: bool) -> Result<impl Reply, Infallible> {
    let (why, api) = match r.find::<BodyRefused>() {
        Some(b) => (b.why, b.api),
        None => {
            tracing::warn!("unhandled rejection: {r:?}");
            (BodyFault::Unreadable, false)
        }
    };
    let (status, code, page, app) = match why {
        BodyFault::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "內容過大。",
            "內容超過 16 KiB。",
        ),
        BodyFault::Slow => (
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "傳送逾時，請重新整理後再試。",
            "傳送逾時，請再送一次。",
        ),
        BodyFault::Unreadable => (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "無法處理的請求。",
            "無法讀取請求的內容。",
        ),
    };
    let mut resp = error(status, api, code, if api { app } else { page }.into());
    crate::routes::secure(&mut resp, https, "'self'");
    // What is left of the body is not read: the connection cannot go on.
    resp.header("connection", "close");
    Ok(resp.into_response())
}

/// An error the HTTP layer answers: JSON `{error, message}` to the API, as
/// its other errors (`failure::Failure::json`), else the text alone.
fn error(status: StatusCode, api: bool, code: &'static str, message: String) -> Resp {
    if api {
        Resp::json(
            status,
            &crate::api::Error {
                error: code,
                message,
            },
        )
    } else {
        Resp::text(status, message)
    }
}

/// A request whose target has no path (`CONNECT host:port`, the only
/// such form hyper passes on): 405, the site's methods named, the
/// connection closed. warp's path filter would panic on it
/// (`PathAndQuery::from_static("")`, which http refuses): no answer, and
/// a panic in the log each time.
fn no_path(https: bool) -> warp::reply::Response {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        false,
        "method_not_allowed",
        "本網站不支援這種請求。".to_string(),
    );
    resp.header("allow", "GET, HEAD, POST, DELETE");
    closing(resp, https)
}

/// An answer the HTTP layer gives before routing, with the headers every
/// answer carries, its connection closed.
fn closing(mut resp: Resp, https: bool) -> warp::reply::Response {
    crate::routes::secure(&mut resp, https, "'self'");
    resp.header("connection", "close");
    resp.into_response().into_response()
}

/// A request over its client's rate: 429, and the connection closed (a
/// client that goes on must open a new one, counted in the accept loop).
fn too_many_requests(https: bool, wait: u64, api: bool) -> warp::reply::Response {
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        api,
        "throttled",
        format!(
            "請求過於頻繁，請於 {}後再試。",
            crate::failure::wait_words(wait)
        ),
    );
    resp.header("retry-after", &wait.to_string());
    closing(resp, https)
}

/// Answers a connection over the limits (503, or 429 over the rate) and
/// closes it, without waiting for anything or reading what it sent.
fn refuse(stream: &TcpStream, https: bool, why: Refused) {
    let (status, body, wait) = match why {
        Refused::Rate(wait) => ("429 Too Many Requests", "連線過於頻繁，請稍後再試。", wait),
        _ => ("503 Service Unavailable", "連線數過多，請稍後再試。", 5),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: {wait}\r\nconnection: close\r\ncache-control: no-store\r\n",
        body.len()
    );
    for (name, value) in crate::routes::security_headers(https, "'self'") {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    let _ = stream.try_write(head.as_bytes());
    // What the client sent already is read (and dropped): closed with
    // unread bytes, the socket would be reset, and the client might never
    // see the answer. (Bytes that arrive after the close still reset it.)
    let socket = socket2::SockRef::from(stream);
    let mut buf = [0u8; 4096];
    for _ in 0..4 {
        match std::io::Read::read(&mut &*socket, &mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` are open.
    Total,
    /// The client's address holds `max_connections_per_ip`.
    PerAddress,
    /// The client's address opens connections faster than
    /// `new_connections_*_per_ip`: the seconds to wait.
    Rate(u64),
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Total => "total",
            Refused::PerAddress => "per_address",
            Refused::Rate(_) => "rate",
        }
    }
}

/// Open connections, in all and per client address, and new ones per
/// client address and second. Only addresses with an open connection are
/// kept, so the map is bounded by the total; the rate's buckets are
/// bounded by `rate::MAX_CLIENTS`.
pub struct Conns {
    max: usize,
    /// `None`: not counted per address.
    per_ip: Option<usize>,
    /// New connections per address; `None`: not limited.
    rate: Option<Limiter>,
    /// Addresses not counted per address: the trusted proxies (every
    /// connection through a proxy comes from it).
    exempt: Networks,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A connection's place; given back when dropped.
pub struct Slot {
    conns: Arc<Conns>,
    key: Option<IpAddr>,
}

impl Conns {
    pub fn new(max: usize, per_ip: Option<usize>, exempt: Networks) -> Conns {
        Conns {
            max,
            per_ip,
            rate: None,
            exempt,
            open: Mutex::new((0, HashMap::new())),
        }
    }

    /// New connections per client address limited to `rate`.
    pub fn with_rate(mut self, rate: Option<crate::rate::Rate>) -> Conns {
        self.rate = rate.map(|r| Limiter::new(r, MAX_CLIENTS));
        self
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        if let Some(rate) = &self.rate {
            if !self.exempt.contains(ip) {
                rate.take(ip, Instant::now())
                    .map_err(|l| Refused::Rate(l.retry_after))?;
            }
        }
        let mut g = self.open.lock().expect("connections");
        let (total, by_ip) = &mut *g;
        if *total >= self.max {
            return Err(Refused::Total);
        }
        let key = match self.per_ip {
            Some(cap) if !self.exempt.contains(ip) => {
                let key = client_key(ip);
                let n = by_ip.entry(key).or_default();
                if *n >= cap {
                    return Err(Refused::PerAddress);
                }
                *n += 1;
                Some(key)
            }
            _ => None,
        };
        *total += 1;
        Ok(Slot {
            conns: Arc::clone(self),
            key,
        })
    }

    pub fn open(&self) -> usize {
        self.open.lock().expect("connections").0
    }

    /// Forgets the rate's buckets that have refilled.
    pub fn sweep(&self) {
        if let Some(rate) = &self.rate {
            rate.sweep(Instant::now());
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.conns.open.lock().expect("connections");
        let (total, by_ip) = &mut *g;
        *total -= 1;
        if let Some(key) = self.key {
            if let Some(n) = by_ip.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    by_ip.remove(&key);
                }
            }
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are
/// being answered.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
    requests: AtomicUsize,
}

/// A request being answered; its end counts as activity.
struct InFlight(Arc<Activity>);

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    fn request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// How long the connection has been idle (zero while a request is
    /// being answered).
    fn idle(&self) -> Duration {
        if self.requests.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves once the connection has been idle for `limit`.
async fn idle(a: &Activity, limit: Duration) {
    loop {
        let idle = a.idle();
        if idle >= limit {
            return;
        }
        tokio::time::sleep((limit - idle).max(Duration::from_millis(50))).await;
    }
}

/// A TCP stream that records when it last moved a byte.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_last_forwarded_hop_of_the_last_line() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "10.9.0.1, 10.9.0.2".parse().unwrap());
        h.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
        let proxy = Networks::parse("127.0.0.1").unwrap();
        let trust = Some(&proxy);
        assert_eq!(client_ip(&h, peer, trust).to_string(), "203.0.113.7");
        assert_eq!(client_ip(&h, peer, None), peer);
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "10.9.0.1, 198.51.100.4".parse().unwrap());
        assert_eq!(client_ip(&h, peer, trust).to_string(), "198.51.100.4");
        // Nothing usable: the peer.
        h.append("x-forwarded-for", "unknown".parse().unwrap());
        assert_eq!(client_ip(&h, peer, trust), peer);
    }

    /// Issue 15: with `trust_proxy`, anyone who reached the server past the
    /// proxy could name any client address.
    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
        let proxies = Networks::parse("127.0.0.1, 10.1.0.0/16").unwrap();
        let from = |peer: &str| client_ip(&h, peer.parse().unwrap(), Some(&proxies)).to_string();
        assert_eq!(from("127.0.0.1"), "203.0.113.7");
        assert_eq!(from("10.1.2.3"), "203.0.113.7");
        assert_eq!(from("127.0.0.2"), "127.0.0.2");
        assert_eq!(from("198.51.100.9"), "198.51.100.9");
    }
}
