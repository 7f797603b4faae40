//! A test client: calls an application in-process, with no socket, and hands back what an HTTP
//! client would have received — werkzeug's `Client`, Go's `httptest.NewRequest` with a
//! `ResponseRecorder`.
//!
//! Stages: all of them but **accept**, for a request that never leaves memory. The request
//! is turned into bytes and read back by the HTTP server's own parser ([`read_request_head`],
//! [`cgi_variables`]), so the environ is exactly the one the server would build; the response
//! comes from [`engine::run`] over an in-memory [`Transport`] whose head is a status line, so
//! `Content-Length`, HEAD, 204 and error pages come out as they do over a real connection.
//!
//! Interface:
//! * [`Client::new`]`(app)` holds the application; [`Client::get`] and [`Client::request`]
//!   send a [`TestRequest`] (method, target with its query, headers, body), and
//!   [`Client::send_raw`] sends any bytes at all — a malformed request line, a bare LF.
//! * Each returns a [`TestResponse`]: status, headers, body, and `errors`, every line the
//!   request caused in the log — what the application and the engine wrote to
//!   `environ.errors`, and what the server says about requests it refuses — without the
//!   client address and time the server's log puts in front.
//!
//! What differs from the server, and why: nothing waits, so there are no timeouts; a body
//! shorter than its `Content-Length` is simply over, which the application sees as a 400
//! error (the server would wait for the rest first); no `100 Continue` goes out, as the body is
//! all there already; and there is no access-log line. For tests of those, start a real server
//! on port 0 (see `README.md`).
//!
//! ```
//! use rgiref::gateway::{AppError, Body, Environ, StartResponse};
//! use rgiref::testing::{Client, TestRequest};
//!
//! fn greet(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
//!     let agent = environ.header("User-Agent").unwrap_or("stranger").to_owned();
//!     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from(format!("hello, {agent}")))
//! }
//!
//! let client = Client::new(greet);
//! let response = client.request(TestRequest::get("/?x=1").header("User-Agent", "tests"));
//! assert_eq!(response.status, 200);
//! assert_eq!(response.header("Content-Length"), Some("12"));
//! assert_eq!(response.text(), "hello, tests");
//! assert!(response.errors.is_empty());
//! ```

use std::cell::RefCell;
use std::io::{self, Cursor, Read};
use std::net::SocketAddr;
use std::rc::Rc;

use crate::engine::{self, Ending, HeadStyle, Outcome, Transport};
use crate::gateway::{Application, Environ, ErrorStream, Input, InputError, Status};
use crate::http::{
    body_framing, cgi_variables, expects_continue, read_request_head, BodyReader, ConnectionInfo,
    Limits, Problem, Refusal, RequestHead, Version,
};
use crate::Stage;

/// The ends of the pretend connection: the client at `127.0.0.1:50000`, the server at
/// `127.0.0.1:80`, so URLs rebuilt from the environ need no port.
const CLIENT: ([u8; 4], u16) = ([127, 0, 0, 1], 50000);
const SERVER: ([u8; 4], u16) = ([127, 0, 0, 1], 80);

/// Calls an application in-process, as the HTTP server would. See the module docs.
#[derive(Debug, Clone)]
pub struct Client<A> {
    app: A,
    limits: Limits,
}

impl<A: Application> Client<A> {
    /// A client for `app`, with the server's default [`Limits`].
    pub fn new(app: A) -> Client<A> {
        Client {
            app,
            limits: Limits::default(),
        }
    }

    /// `GET target`: the shortest test.
    ///
    /// ```
    /// use rgiref::demo::demo_app;
    /// use rgiref::testing::Client;
    /// let page = Client::new(demo_app).get("/xyz?q=1").text();
    /// assert!(page.contains("PATH_INFO = \"/xyz\"\n"));
    /// assert!(page.contains("QUERY_STRING = \"q=1\"\n"));
    /// ```
    pub fn get(&self, target: &str) -> TestResponse {
        self.request(TestRequest::get(target))
    }

    /// Sends `request` and returns the response.
    pub fn request(&self, request: TestRequest) -> TestResponse {
        self.send_raw(&request.to_bytes())
    }

    /// Sends `raw` as the whole request, exactly as given, and returns the response. For
    /// requests no [`TestRequest`] would write: a malformed head, an HTTP/0.9 request.
    ///
    /// ```
    /// use rgiref::demo::demo_app;
    /// use rgiref::testing::Client;
    /// let response = Client::new(demo_app).send_raw(b"GET  / HTTP/1.0\r\n\r\n");
    /// assert_eq!(response.status, 400);
    /// assert_eq!(response.errors, ["read request: 400 Bad Request: bad request line: \"GET  / HTTP/1.0\" (it must be METHOD SP TARGET SP HTTP/x.y)"]);
    /// ```
    pub fn send_raw(&self, raw: &[u8]) -> TestResponse {
        let log = Lines::default();
        let mut reader = Cursor::new(raw.to_vec());
        let (transport, outcome) = match read_request_head(&mut reader, &self.limits) {
            Ok(head) => self.serve(head, reader, &log),
            Err(error) => refuse_unreadable(error.problem, error.request_line, &log),
        };
        TestResponse::new(transport, outcome, log.take())
    }

    /// The steps the HTTP server takes once it has a head (`src/server/connection.rs`).
    fn serve(
        &self,
        head: RequestHead,
        reader: Cursor<Vec<u8>>,
        log: &Lines,
    ) -> (Memory, Option<Outcome>) {
        let checked = body_framing(&head)
            .and_then(|framing| expects_continue(&head).map(|_| framing))
            .map_err(|refusal| (Stage::ReadRequest, refusal));
        let prepared = checked.and_then(|framing| {
            let cgi = cgi_variables(&head, framing, &connection())
                .map_err(|refusal| (Stage::BuildEnviron, refusal))?;
            Ok((framing, cgi))
        });
        let (framing, cgi) = match prepared {
            Ok(prepared) => prepared,
            Err((stage, refusal)) => {
                return refuse(stage, &head.method, head.version, refusal, log)
            }
        };
        for note in &cgi.dropped {
            log.push(format!("{}: {note}", Stage::BuildEnviron));
        }
        let body = ClientBody(BodyReader::new(reader, framing, &self.limits));
        let environ = Environ::new(cgi.vars, Input::new(body), log.error_stream());
        let mut transport = Memory::new(head.version);
        let outcome = engine::run(&self.app, environ, &mut transport);
        (transport, Some(outcome))
    }
}

/// The connection the request pretends to have come over.
fn connection() -> ConnectionInfo {
    ConnectionInfo {
        local: SocketAddr::from(SERVER),
        peer: SocketAddr::from(CLIENT),
        server_software: crate::SERVER_SOFTWARE.to_owned(),
    }
}

/// A head the parser refused, or one that ended before it was complete.
fn refuse_unreadable(
    problem: Problem,
    request_line: Option<String>,
    log: &Lines,
) -> (Memory, Option<Outcome>) {
    // As the server does: a HEAD request's refusal has no body either.
    let method = match &request_line {
        Some(line) if line.starts_with("HEAD ") => "HEAD",
        _ => "",
    };
    let message = match problem {
        Problem::Refused(refusal) => {
            return refuse(Stage::ReadRequest, method, Version::HTTP_10, refusal, log)
        }
        Problem::Closed => {
            "the request ended in the middle of its head (no empty line after the headers?)"
                .to_owned()
        }
        Problem::TimedOut => "the request head did not arrive in time".to_owned(),
        Problem::Io(error) => format!("reading the request failed: {error}"),
    };
    log.push(format!("{}: {message}", Stage::ReadRequest));
    (Memory::new(Version::HTTP_10), None)
}

/// Sends the error page for a request the server will not run, and logs why.
fn refuse(
    stage: Stage,
    method: &str,
    version: Version,
    refusal: Refusal,
    log: &Lines,
) -> (Memory, Option<Outcome>) {
    log.push(format!("{stage}: {refusal}"));
    let mut transport = Memory::new(version);
    let outcome = engine::send_error(&mut transport, method, refusal.status, &refusal.message);
    (transport, Some(outcome))
}

/// The request body as the application reads it. A body that is cut short or malformed is the
/// client's fault, and says so with an [`InputError`], as the HTTP server's body does.
struct ClientBody(BodyReader<Cursor<Vec<u8>>>);

impl Read for ClientBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => {
                let kind = error.kind();
                InputError::new(Status::BAD_REQUEST, error.to_string()).into_io(kind)
            }
            _ => error,
        })
    }
}

/// The in-memory transport: collects the response bytes.
struct Memory {
    head_style: HeadStyle<'static>,
    bytes: Vec<u8>,
}

impl Memory {
    /// A transport that answers `version` as the HTTP server does: with an HTTP/1.0 status
    /// line, or for an HTTP/0.9 request with the body alone.
    fn new(version: Version) -> Memory {
        let head_style = if version == Version::HTTP_09 {
            HeadStyle::None
        } else {
            HeadStyle::StatusLine {
                version: "HTTP/1.0",
                server: crate::SERVER_SOFTWARE,
            }
        };
        Memory {
            head_style,
            bytes: Vec::new(),
        }
    }
}

impl Transport for Memory {
    fn head_style(&self) -> HeadStyle<'_> {
        self.head_style
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Nothing to close: [`TestResponse::ending`] says the response was cut short.
    fn abort(&mut self) {}
}

/// The log lines of one request, shared by its error stream and the client.
#[derive(Clone, Default)]
struct Lines(Rc<RefCell<Vec<String>>>);

impl Lines {
    fn push(&self, line: String) {
        self.0.borrow_mut().push(line);
    }

    fn error_stream(&self) -> ErrorStream {
        let lines = self.clone();
        ErrorStream::new(move |line: &str| lines.push(line.to_owned()))
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// A request for [`Client::request`], built up like a `curl` command line.
///
/// ```
/// use rgiref::testing::TestRequest;
/// let request = TestRequest::post("/upload")
///     .header("Content-Type", "text/plain")
///     .body("hello");
/// assert_eq!(
///     request.to_bytes(),
///     b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl TestRequest {
    /// A request with this method and target (a path, and a query if you like: `/a?b=1`).
    pub fn new(method: &str, target: &str) -> TestRequest {
        TestRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> TestRequest {
        TestRequest::new("GET", target)
    }

    /// `HEAD target`.
    pub fn head(target: &str) -> TestRequest {
        TestRequest::new("HEAD", target)
    }

    /// `POST target`; give it a [`TestRequest::body`] (without one, the body is empty).
    pub fn post(target: &str) -> TestRequest {
        TestRequest::new("POST", target)
    }

    /// Adds a request header. Repeat it for a header sent more than once. Nothing is checked
    /// here: a header the server would refuse is refused when the request is sent.
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the request body; its `Content-Length` is added when the request is sent, unless
    /// you gave a `Content-Length` or `Transfer-Encoding` header yourself.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> TestRequest {
        self.body = Some(body.into());
        self
    }

    /// The request as it goes on the wire: an HTTP/1.1 request line, `Host: localhost` unless
    /// a `Host` header was given, the headers, and `Content-Length` for a body (and for a
    /// POST, PUT or PATCH without one, which the server would otherwise refuse with 411).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if !self.has_header("Host") {
            head.push_str("Host: localhost\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or_default();
        let needs_length =
            self.body.is_some() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if needs_length
            && !self.has_header("Content-Length")
            && !self.has_header("Transfer-Encoding")
        {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// What came back: the response taken apart, and the log lines of the request.
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::testing::{Client, TestRequest};
/// let teapot = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
///     s.start("418 I'm a teapot", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("short and stout"))
/// };
/// let response = Client::new(teapot).request(TestRequest::head("/pot"));
/// assert_eq!(response.status_line, "HTTP/1.0 418 I'm a teapot");
/// assert_eq!(response.header("content-length"), Some("15")); // GET's length, and no body
/// assert!(response.body.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status code; for an HTTP/0.9 response, which has no head, the one the application
    /// chose; 0 if no response was sent at all.
    pub status: u16,
    /// The status line, `HTTP/1.0 200 OK`; empty without a head.
    pub status_line: String,
    /// The headers, in order, as sent (the server's `Date`, `Server` and `Content-Length`
    /// among them).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Everything that was sent, head and body.
    pub raw: Vec<u8>,
    /// The log lines of the request, in order (see the module docs).
    pub errors: Vec<String>,
    /// How the response ended ([`Ending::CutShort`] where the server would have closed the
    /// connection early); `None` if no response was sent.
    pub ending: Option<Ending>,
}

impl TestResponse {
    fn new(transport: Memory, outcome: Option<Outcome>, errors: Vec<String>) -> TestResponse {
        let raw = transport.bytes;
        let ending = outcome.as_ref().map(|o| o.ending);
        let chosen = outcome.and_then(|o| o.status).unwrap_or(0);
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        let (status_line, headers, body) = match (transport.head_style, head_end) {
            (HeadStyle::None, _) | (_, None) => (String::new(), Vec::new(), raw.clone()),
            (_, Some(end)) => {
                let head = String::from_utf8_lossy(&raw[..end]).into_owned();
                let (status_line, headers) = parse_head(&head);
                (status_line, headers, raw[end + 4..].to_vec())
            }
        };
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(chosen);
        TestResponse {
            status,
            status_line,
            headers,
            body,
            raw,
            errors,
            ending,
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text; bytes that are not UTF-8 show as U+FFFD.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The status line and the `Name: value` lines of a response head.
fn parse_head(head: &str) -> (String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    (status_line, headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{AppError, Body, StartResponse};

    fn read_all(environ: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
        let mut body = Vec::new();
        environ.input.read_to_end(&mut body)?;
        s.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(body))
    }

    #[test]
    fn a_body_cut_short_is_the_clients_400() {
        let response =
            Client::new(read_all).send_raw(b"POST / HTTP/1.0\r\nContent-Length: 9\r\n\r\nabc");
        assert_eq!(response.status, 400, "{:?}", response.errors);
        assert!(
            response.text().contains("ended after 3 of the 9 bytes"),
            "{}",
            response.text()
        );
    }

    #[test]
    fn a_chunked_body_is_decoded() {
        let request = TestRequest::post("/")
            .header("Transfer-Encoding", "chunked")
            .body("5\r\nhello\r\n0\r\n\r\n");
        let response = Client::new(read_all).request(request);
        assert_eq!(response.text(), "hello");
    }

    #[test]
    fn an_unfinished_head_gets_no_response() {
        let response = Client::new(read_all).send_raw(b"GET / HTTP/1.0\r\n");
        assert_eq!((response.status, response.raw.len()), (0, 0));
        assert_eq!(response.ending, None);
        assert!(response.errors[0].starts_with("read request: the request ended"));
    }

    #[test]
    fn http_09_gets_the_body_alone() {
        let response = Client::new(read_all).send_raw(b"GET /\r\n");
        assert_eq!((response.status, response.status_line.as_str()), (200, ""));
        assert!(response.headers.is_empty());
    }
}
