//! Composition: middleware that wraps an application, boxed applications, and the stage events
//! an observer sees — all served by the real HTTP server over a socket.
//!
//! Stage: **call app** (a middleware is an application calling an application), and every
//! stage for the observer.

mod common;

use std::error::Error;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{get_and_read, start, start_with};
use rgiref::demo::demo_app;
use rgiref::gateway::{
    AppError, Application, Body, Environ, Responder, StartResponse, StartResponseError, Status,
};
use rgiref::log::Log;
use rgiref::observe::{Event, HeaderFate};
use rgiref::server::{Config, Server};

/// The test middleware: adds `X-Wrapped: yes` to every response of the application inside it,
/// and counts the body bytes that application sends (returned body and legacy `write` alike).
struct Wrapped<A> {
    inner: A,
    body_bytes: Arc<AtomicU64>,
}

/// Its responder: sees the inner application's `start` and `write` calls.
struct AddHeader<'a, 'b> {
    outer: &'a mut StartResponse<'b>,
    body_bytes: Arc<AtomicU64>,
}

impl Responder for AddHeader<'_, '_> {
    fn start_response(
        &mut self,
        status: String,
        mut headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        headers.push(("X-Wrapped".into(), "yes".into()));
        self.outer.start_response(status, headers, replacing)
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.body_bytes
            .fetch_add(bytes.len() as u64, Ordering::SeqCst);
        self.outer.write_now(bytes)
    }

    fn headers_sent(&self) -> bool {
        self.outer.headers_sent()
    }

    fn refused(&mut self, error: &StartResponseError) {
        self.outer.refused(error)
    }
}

impl<A: Application> Application for Wrapped<A> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Result<Body, AppError> {
        let mut responder = AddHeader {
            outer: start_response,
            body_bytes: Arc::clone(&self.body_bytes),
        };
        let body = self
            .inner
            .call(environ, &mut StartResponse::new(&mut responder))?;
        let counter = Arc::clone(&self.body_bytes);
        Ok(body.inspect(move |piece| {
            counter.fetch_add(piece.len() as u64, Ordering::SeqCst);
        }))
    }
}

fn wrap<A: Application>(inner: A) -> (Wrapped<A>, Arc<AtomicU64>) {
    let body_bytes = Arc::new(AtomicU64::new(0));
    let wrapped = Wrapped {
        inner,
        body_bytes: Arc::clone(&body_bytes),
    };
    (wrapped, body_bytes)
}

#[test]
fn a_middleware_adds_a_header_and_counts_the_demo_apps_body() {
    let (app, counted) = wrap(demo_app);
    let server = start(app);
    let response = server.request(b"GET /wrapped?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("X-Wrapped"), Some("yes"));
    assert!(response.body_text().contains("PATH_INFO = \"/wrapped\""));
    // The length is still known, so the server still sends Content-Length, and it matches.
    let length: u64 = response.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(length, response.body.len() as u64);
    assert_eq!(counted.load(Ordering::SeqCst), length);
}

#[test]
fn a_middleware_sees_the_legacy_write_too() {
    let writer = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        let mut write = start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        write.write_all(b"written, ")?;
        Ok(Body::from("returned"))
    };
    let (app, counted) = wrap(writer);
    let server = start(app);
    let response = server.ping();
    assert_eq!(response.header("X-Wrapped"), Some("yes"));
    assert_eq!(response.body_text(), "written, returned");
    assert_eq!(counted.load(Ordering::SeqCst), 17);
}

#[test]
fn an_inner_apps_bad_header_still_becomes_a_500_through_the_middleware() {
    let bad = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        // The application ignores the error; the refusal must still reach the engine.
        let _ = start_response.start("200 OK", [("X-Bad", "a\r\nInjected: yes")]);
        Ok(Body::from("never sent"))
    };
    let (app, _) = wrap(bad);
    let server = common::start_unvalidated(app);
    let response = server.ping();
    assert_eq!(response.status, 500, "{:?}", response.body_text());
    assert_eq!(response.header("Injected"), None);
    assert!(server.log_text().contains("control character"));
}

#[test]
fn a_boxed_application_is_served() {
    let boxed = Box::new(demo_app) as Box<dyn Application>;
    let config = Config {
        log: Log::silent(),
        ..Config::default()
    };
    let server = Server::bind_with("127.0.0.1:0", boxed, config).expect("bind");
    let addr = server.local_addr();
    // Box<dyn Application> is not Send, so this server runs on this thread, one request.
    let client = std::thread::spawn(move || get_and_read(addr, "/boxed"));
    server.handle_request().expect("serve one request");
    let response = client.join().unwrap();
    assert!(response.body_text().contains("PATH_INFO = \"/boxed\""));
}

#[test]
fn a_router_of_boxed_sendable_applications_is_served_from_a_thread() {
    let teapot = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        start_response.start(Status::new(418, "I'm a teapot"), [])?;
        Ok(Body::empty())
    };
    let routes: Vec<(&str, Box<dyn Application + Send>)> =
        vec![("/tea", Box::new(teapot)), ("/", Box::new(demo_app))];
    let router = move |environ: &mut Environ, start_response: &mut StartResponse| {
        let path = environ.path_info().to_owned();
        let (_, app) = routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .ok_or("no route")?;
        app.call(environ, start_response)
    };
    let server = start(router);
    assert_eq!(server.request(b"GET /tea HTTP/1.0\r\n\r\n").status, 418);
    assert_eq!(server.ping().status, 200);
}

#[test]
fn an_observer_sees_every_stage_of_a_request() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let observer = move |event: &Event<'_>| {
        let line = match event {
            Event::HeadReceived { raw } => format!("raw {}", String::from_utf8_lossy(raw)),
            Event::Header { name, fate, .. } => format!("header {name} {fate:?}"),
            Event::Environ { vars } => format!("environ PATH_INFO={}", vars["PATH_INFO"]),
            Event::Started { status, .. } => format!("started {status}"),
            Event::HeaderAdded { name, .. } => format!("added {name}"),
            Event::BodyWritten { bytes } => format!("body {}", bytes.len()),
            Event::Closed => "Closed".to_owned(),
            other => format!("{:?}", other.stage()),
        };
        record.lock().unwrap().push(line);
    };
    let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("hello"))
    };
    let server = start_with(app, |config| config.observer = Some(Arc::new(observer)));
    let raw = b"GET /seen HTTP/1.0\r\nUser-Agent: test\r\nX_Forged: 1\r\n\r\n";
    server.request(raw);
    server.ping(); // the server is single-threaded: the first request is over
    let seen = seen.lock().unwrap().clone();
    let first: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .take_while(|line| *line != "Closed")
        .collect();
    assert_eq!(first[0], "Accept");
    assert_eq!(first[1], format!("raw {}", String::from_utf8_lossy(raw)));
    assert_eq!(first[2], "ReadRequest"); // the request line
    let expected_rest = [
        format!(
            "header User-Agent {:?}",
            HeaderFate::Variable("HTTP_USER_AGENT")
        ),
        "environ PATH_INFO=/seen".to_owned(),
        "started 200 OK".to_owned(),
        "added Date".to_owned(),
        "added Server".to_owned(),
        "added Content-Length".to_owned(),
        "SendHeaders".to_owned(),
        "body 5".to_owned(),
        "Finish".to_owned(),
    ];
    let forged = first
        .iter()
        .find(|line| line.starts_with("header X_Forged"))
        .expect("the dropped header is reported");
    assert!(forged.contains("Dropped"), "{forged}");
    let rest: Vec<&str> = first[3..]
        .iter()
        .copied()
        .filter(|line| !line.starts_with("header X_Forged"))
        .collect();
    assert_eq!(
        rest,
        expected_rest.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        seen.iter().filter(|line| *line == "Closed").count(),
        2,
        "one close per connection: {seen:?}"
    );
}

#[test]
fn a_trace_narrates_a_request_stage_by_stage() {
    use rgiref::trace::{Trace, TraceOptions};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let out = Shared::default();
    let options = TraceOptions {
        bytes: true,
        secrets: false,
    };
    let trace = Trace::new(out.clone(), options);
    let server = start_with(demo_app, |config| config.observer = Some(Arc::new(trace)));
    server.request(b"GET /traced?x=1 HTTP/1.0\r\nCookie: id=s3cret\r\nX_Y: 1\r\n\r\n");
    server.ping();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let first = text.split("* connection closed").next().unwrap();
    for expected in [
        "[accept]        * connection from 127.0.0.1:",
        "[read request]  > GET /traced?x=1 HTTP/1.0\\r\\n",
        "[read request]  > Cookie: <redacted>\\r\\n",
        "[read request]  * request head: 55 bytes",
        "[read request]  > GET /traced?x=1 HTTP/1.0\n",
        "[build environ] * Cookie: <redacted>  →  HTTP_COOKIE",
        "[build environ] * X_Y: 1  dropped: a name with \"_\"",
        "[build environ] * PATH_INFO = \"/traced\", QUERY_STRING = \"x=1\"",
        "[call app]      * start_response(\"200 OK\", 1 header)",
        "[send headers]  < Date: ",
        "[send headers]  < Content-Length: ",
        "[send headers]  < HTTP/1.0 200 OK\\r\\n",
        "[send body]     < ",
        "[finish]        * 200, ",
    ] {
        assert!(first.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("s3cret"),
        "a credential leaked into the trace:\n{text}"
    );
}
