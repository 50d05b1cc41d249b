//! warp as the HTTP server: one filter turns every request into a `Req`
//! (bodies of POST and friends capped at `MAX_BODY`) and hands it to
//! `routes::handle`; one `recover` answers what warp itself refuses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::path::FullPath;
use warp::{Filter, Rejection, Reply};

use crate::app::App;
use crate::http::{Req, Resp, MAX_BODY};

/// The request body, read whole up to `MAX_BODY` (a request without
/// a body, whatever its method, has an empty one).
fn body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::body::stream().and_then(collect)
}

async fn collect<S, B>(stream: S) -> Result<Bytes, Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = Box::pin(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| warp::reject::reject())?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if out.len() + part.len() > MAX_BODY {
                return Err(warp::reject::custom(TooLarge));
            }
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(out))
}

#[derive(Debug)]
struct TooLarge;
impl warp::reject::Reject for TooLarge {}

/// Serves until `shutdown` resolves.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let trust_proxy = app.cfg.server.trust_proxy;
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(body())
        .then(
            move |method: Method,
                  path: FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  body: Bytes| {
                let app = Arc::clone(&app);
                async move {
                    let mut ip = remote.map_or([127, 0, 0, 1].into(), |a| a.ip());
                    if trust_proxy {
                        if let Some(last) = headers
                            .get("x-forwarded-for")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.rsplit(',').next())
                            .and_then(|v| v.trim().parse().ok())
                        {
                            ip = last;
                        }
                    }
                    let req = Req {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        ip,
                        body: body.to_vec(),
                    };
                    crate::routes::handle(app, req).await.into_response()
                }
            },
        )
        .recover(recover);
    warp::serve(routes)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

/// What warp refused before a handler ran: a body too large.
async fn recover(r: Rejection) -> Result<impl Reply, Infallible> {
    let (status, text) = if r.find::<TooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "內容過大。")
    } else {
        tracing::warn!("unhandled rejection: {r:?}");
        (StatusCode::BAD_REQUEST, "無法處理的請求。")
    };
    Ok(Resp::text(status, text.into()).into_response())
}
