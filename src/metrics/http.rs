//! HTTP requests and their latency per route template (`/teams/{id}`, never the path itself),
//! method and status class. The layer sits on every route; per request it reads the matched
//! route, takes one read lock to find that route's cells (made on its first request) and adds
//! to a few atomics: no allocation, no lock held across the request. Requests no route matched
//! count under `route="unmatched"`, so unknown paths cannot grow the label set.
use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use pin_project_lite::pin_project;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"];
const CLASSES: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];
const UNMATCHED: &str = "unmatched";

/// One (method, status class) of a route: a count, a sum and per-bucket counts.
#[derive(Default)]
struct Cell {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

/// Every (method, status class) cell of one route.
struct Route {
    cells: [[Cell; CLASSES.len()]; METHODS.len()],
}

impl Default for Route {
    fn default() -> Self {
        Self {
            cells: std::array::from_fn(|_| std::array::from_fn(|_| Cell::default())),
        }
    }
}

#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<Box<str>, Arc<Route>>>,
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

impl HttpMetrics {
    fn route(&self, template: &str) -> Arc<Route> {
        if let Some(route) = self.routes.read().unwrap_or_else(|p| p.into_inner()).get(template) {
            return Arc::clone(route);
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(routes.entry(template.into()).or_default())
    }

    /// Counts one request that took `nanos` and answered `status`.
    pub fn record(&self, template: &str, method: &Method, status: u16, nanos: u64) {
        let route = self.route(template);
        let class = match status / 100 {
            c @ 1..=5 => usize::from(c),
            _ => 0,
        };
        let cell = &route.cells[method_index(method)][class];
        cell.count.fetch_add(1, Ordering::Relaxed);
        cell.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let seconds = nanos as f64 / 1e9;
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            cell.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes the cells at scrape time.
#[derive(Debug)]
pub struct Collector(pub Arc<HttpMetrics>);

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpMetrics")
    }
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut routes: Vec<(Box<str>, Arc<Route>)> = self
            .0
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        let cells = || {
            routes.iter().flat_map(|(template, route)| {
                METHODS.iter().enumerate().flat_map(move |(m, method)| {
                    CLASSES.iter().enumerate().filter_map(move |(c, class)| {
                        let cell = &route.cells[m][c];
                        let count = cell.count.load(Ordering::Relaxed);
                        (count > 0).then_some((
                            [("route", &**template), ("method", *method), ("status", *class)],
                            cell,
                            count,
                        ))
                    })
                })
            })
        };
        let mut requests = encoder.encode_descriptor(
            "guildhall_http_requests",
            "HTTP requests by route template, method and status class",
            None,
            MetricType::Counter,
        )?;
        for (labels, _, count) in cells() {
            let labels = &labels[..];
            requests
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        let mut latency = encoder.encode_descriptor(
            "guildhall_http_request_duration_seconds",
            "HTTP request latency (until the response head) by route template, method and status class",
            None,
            MetricType::Histogram,
        )?;
        for (labels, cell, count) in cells() {
            let labels = &labels[..];
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .zip(&cell.buckets)
                .map(|(bound, n)| (*bound, n.load(Ordering::Relaxed)))
                .collect();
            #[allow(clippy::cast_precision_loss)]
            let sum = cell.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            latency
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The tower layer that counts every request.
#[derive(Clone)]
pub struct HttpMetricsLayer(pub Arc<HttpMetrics>);

impl<S> tower::Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            metrics: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    metrics: Arc<HttpMetrics>,
}

impl<S, B, R> tower::Service<Request<B>> for HttpMetricsService<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        Counted {
            inner: self.inner.call(req),
            started: Instant::now(),
            route,
            method,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

pin_project! {
    /// The inner service's future, counted when it answers.
    pub struct Counted<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: Option<MatchedPath>,
        method: Method,
        metrics: Arc<HttpMetrics>,
    }
}

impl<F, R, E> Future for Counted<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        let nanos = u64::try_from(this.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let template = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        // An error of the inner service is not an answer (axum's routes never fail).
        if let Ok(response) = &output {
            this.metrics
                .record(template, this.method, response.status().as_u16(), nanos);
        }
        Poll::Ready(output)
    }
}
