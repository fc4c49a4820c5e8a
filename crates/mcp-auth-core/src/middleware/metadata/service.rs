use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use crate::AuthBody;
use crate::metadata::WELL_KNOWN_PATH;

/// Middleware that answers protected-resource metadata requests. See the
/// [module docs](crate::middleware::metadata).
#[derive(Clone)]
pub struct Metadata<S> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared>,
}

crate::middleware_service!(Metadata);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metadata<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    crate::forward_ready!();

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let path = req.uri().path();
        let Some(rest) = path.strip_prefix(WELL_KNOWN_PATH) else {
            return ResponseFuture::call(self.inner.call(req));
        };
        if !rest.is_empty() && !rest.starts_with('/') {
            return ResponseFuture::call(self.inner.call(req));
        }
        let known = rest.is_empty() || path == self.shared.resource_path;
        ResponseFuture::respond(respond(req.method(), known, &self.shared))
    }
}

/// A leaf service that answers only protected-resource metadata requests: the document at the
/// resource's suffixed well-known path and at the root well-known path, 404 for any other path.
///
/// Mount it as a route of its own (see [`MetadataLayer::service`](super::MetadataLayer::service)
/// and [`MetadataLayer::paths`](super::MetadataLayer::paths)) so that discovery works whatever
/// middleware wraps the MCP route, e.g. under axum's `route_layer`, `merge` or `nest`.
#[derive(Clone, Debug)]
pub struct MetadataService {
    pub(super) shared: Arc<Shared>,
}

impl<ReqBody> Service<Request<ReqBody>> for MetadataService {
    type Response = Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let path = req.uri().path();
        let known = path == WELL_KNOWN_PATH || path == self.shared.resource_path;
        let response = respond(req.method(), known, &self.shared);
        std::future::ready(Ok(response.map(http_body_util::Full::new)))
    }
}

fn respond(method: &Method, known: bool, shared: &Shared) -> Response<Bytes> {
    let mut response = if !known {
        json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found","error_description":"no protected-resource metadata at this path"}"#.into())
    } else if method == Method::GET || method == Method::HEAD {
        let mut r = json_response(StatusCode::OK, shared.document.clone());
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        if method == Method::HEAD {
            *r.body_mut() = Bytes::new();
        }
        r
    } else if method == Method::OPTIONS {
        let mut r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("mcp-protocol-version, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        r
    } else {
        let mut r = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"error":"method_not_allowed","error_description":"the metadata document is read with GET"}"#.into(),
        );
        r.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        r
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::super::MetadataLayer;
    use crate::ResourceId;
    use crate::metadata::ProtectedResourceMetadata;
    use bytes::Bytes;
    use http::{Method, Request, Response};
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceBuilder, ServiceExt};

    async fn call(method: Method, path: &str) -> Response<crate::AuthBody<Full<Bytes>>> {
        let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
        let metadata = ProtectedResourceMetadata::builder(&resource)
            .authorization_server("https://as.example.com")
            .build()
            .unwrap();
        let svc = ServiceBuilder::new()
            .layer(MetadataLayer::new(metadata))
            .service_fn(|_r: Request<Full<Bytes>>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("inner"))))
            });
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("mcp-protocol-version", "2025-11-25")
            .header("host", "evil.example")
            .body(Full::default())
            .unwrap();
        svc.oneshot(req).await.unwrap()
    }

    async fn text(r: Response<crate::AuthBody<Full<Bytes>>>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn serves_at_suffixed_and_root_paths_from_configuration() {
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ] {
            let r = call(Method::GET, path).await;
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["content-type"], "application/json");
            assert_eq!(r.headers()["access-control-allow-origin"], "*");
            let body: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
            assert_eq!(body["resource"], "https://mcp.example.com/mcp");
            assert!(!body.to_string().contains("evil.example"));
        }
    }

    #[tokio::test]
    async fn unknown_well_known_paths_are_404() {
        let r = call(Method::GET, "/.well-known/oauth-protected-resource/other").await;
        assert_eq!(r.status(), 404);
    }

    #[tokio::test]
    async fn other_paths_reach_the_inner_service() {
        for path in [
            "/mcp",
            "/.well-known/oauth-protected-resourcex",
            "/.well-known/openid-configuration",
        ] {
            let r = call(Method::GET, path).await;
            assert_eq!(text(r).await, "inner", "{path}");
        }
    }

    #[tokio::test]
    async fn the_leaf_service_answers_its_paths_and_404_elsewhere() {
        let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
        let metadata = ProtectedResourceMetadata::builder(&resource)
            .authorization_server("https://as.example.com")
            .build()
            .unwrap();
        let layer = MetadataLayer::new(metadata);
        assert_eq!(
            layer.paths(),
            [
                "/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource"
            ]
        );
        for (path, status) in [
            ("/.well-known/oauth-protected-resource/mcp", 200),
            ("/.well-known/oauth-protected-resource", 200),
            ("/mcp", 404),
        ] {
            let req = Request::get(path).body(Full::<Bytes>::default()).unwrap();
            let r = layer.service().oneshot(req).await.unwrap();
            assert_eq!(r.status(), status, "{path}");
            assert_eq!(r.headers()["access-control-allow-origin"], "*");
        }
    }

    #[tokio::test]
    async fn preflight_head_and_other_methods() {
        let r = call(Method::OPTIONS, "/.well-known/oauth-protected-resource/mcp").await;
        assert_eq!(r.status(), 204);
        assert!(
            r.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("mcp-protocol-version")
        );
        let r = call(Method::HEAD, "/.well-known/oauth-protected-resource/mcp").await;
        assert_eq!(r.status(), 200);
        assert_eq!(text(r).await, "");
        let r = call(Method::POST, "/.well-known/oauth-protected-resource/mcp").await;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, HEAD, OPTIONS");
    }
}
