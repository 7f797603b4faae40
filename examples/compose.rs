//! Middleware composition: two applications mounted under prefixes by a router, a timing
//! middleware around the router, and the validator around everything.
//!
//! Stage: **call app** — every box below is an application that calls another, which is all
//! middleware is (PEP 3333, "Middleware: Components that Play Both Sides"):
//!
//! ```text
//!   validator( Timing( Mount { /hello → hello, /demo → demo_app } ) )
//! ```
//!
//! The router moves the first segment of `PATH_INFO` to `SCRIPT_NAME` (`shift_path_info`), so
//! each mounted application sees where it is mounted, and only the rest of the path as its
//! own: `/demo/x/y` reaches `demo_app` as `SCRIPT_NAME = "/demo"`, `PATH_INFO = "/x/y"`.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example compose              # port 8003; or: cargo run --example compose -- 8011
//!   curl 'http://127.0.0.1:8003/hello/there?name=Ada'
//!   curl http://127.0.0.1:8003/demo/x/y      # the demo page: find SCRIPT_NAME and PATH_INFO
//!   curl -i http://127.0.0.1:8003/nowhere    # 404 from the router, naming what is mounted
//!   curl -i 'http://127.0.0.1:8003/hello/?name=%zz'   # a bad escape: 400, the client's fault
//! ```
//!
//! Watch the terminal: the timing middleware logs a `compose:` line for each request.

use std::cell::Cell;
use std::error::Error;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use rgiref::demo::demo_app;
use rgiref::gateway::{
    AppError, Application, Body, Environ, Headers, InputError, Responder, StartResponse,
    StartResponseError, Status,
};
use rgiref::server::Server;
use rgiref::util::{query, request_uri, shift_path_info};
use rgiref::validate::validator;

/// Greets `?name=`, and shows where it was mounted and what of the URL is its own.
fn hello(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let query = query(environ).map_err(InputError::from)?;
    let name = query.get("name").unwrap_or("world");
    let page = format!(
        "Hello, {name}!\n\nSCRIPT_NAME = {:?}\nPATH_INFO = {:?}\nrequest_uri = {}\n",
        environ.script_name(),
        environ.path_info(),
        request_uri(environ),
    );
    let mut headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    start_response.start(Status::OK, headers)?;
    Ok(Body::from(page))
}

/// A router: the applications mounted under the first segment of the path.
pub struct Mount {
    routes: Vec<(String, Box<dyn Application + Send>)>,
}

impl Mount {
    /// A router with nothing mounted.
    pub fn new() -> Mount {
        Mount { routes: Vec::new() }
    }

    /// Mounts `app` at `/segment`.
    pub fn at(mut self, segment: &str, app: impl Application + Send + 'static) -> Mount {
        self.routes.push((segment.to_owned(), Box::new(app)));
        self
    }

    fn find(&self, segment: &str) -> Option<&(dyn Application + Send)> {
        let (_, app) = self.routes.iter().find(|(name, _)| name == segment)?;
        Some(app.as_ref())
    }
}

impl Application for Mount {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Result<Body, AppError> {
        // Shift first, look second; put the path back if nothing is mounted there, so the 404
        // names the path that was asked for.
        let before = (
            environ.script_name().to_owned(),
            environ.path_info().to_owned(),
        );
        let segment = shift_path_info(environ);
        if let Some(app) = segment.as_deref().and_then(|segment| self.find(segment)) {
            return app.call(environ, start_response);
        }
        environ.vars.insert("SCRIPT_NAME".to_owned(), before.0);
        environ.vars.insert("PATH_INFO".to_owned(), before.1);
        self.not_found(environ, start_response)
    }
}

impl Mount {
    fn not_found(
        &self,
        environ: &Environ,
        start_response: &mut StartResponse,
    ) -> Result<Body, AppError> {
        let mounted: Vec<String> = self
            .routes
            .iter()
            .map(|(name, _)| format!("{}/{name}/", environ.script_name()))
            .collect();
        let page = format!(
            "nothing is mounted at {:?}; try {}\n",
            environ.path_info(),
            mounted.join(" or ")
        );
        start_response.start(Status::NOT_FOUND, [("Content-Type", "text/plain")])?;
        Ok(Body::from(page))
    }
}

impl Default for Mount {
    fn default() -> Mount {
        Mount::new()
    }
}

/// Middleware: logs each request's method, path, status, body size and time to
/// `environ.errors` once its body has been sent.
pub struct Timing<A>(pub A);

/// Timing's responder: notes the status on its way out.
struct NoteStatus<'a, 'b> {
    outer: &'a mut StartResponse<'b>,
    status: Rc<Cell<Option<u16>>>,
}

impl Responder for NoteStatus<'_, '_> {
    fn start_response(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        self.status
            .set(status.get(..3).and_then(|code| code.parse().ok()));
        self.outer.start_response(status, headers, replacing)
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.outer.write_now(bytes)
    }

    fn headers_sent(&self) -> bool {
        self.outer.headers_sent()
    }

    fn refused(&mut self, error: &StartResponseError) {
        self.outer.refused(error)
    }
}

impl<A: Application> Application for Timing<A> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Result<Body, AppError> {
        let started = Instant::now();
        // Taken now: the router inside will move PATH_INFO into SCRIPT_NAME.
        let request = format!(
            "{} {}{}",
            environ.method(),
            environ.script_name(),
            environ.path_info()
        );
        let errors = environ.errors.clone();
        let status = Rc::new(Cell::new(None));
        let mut note = NoteStatus {
            outer: start_response,
            status: Rc::clone(&status),
        };
        let called = self.0.call(environ, &mut StartResponse::new(&mut note));
        let body = match called {
            Ok(body) => body,
            Err(error) => {
                errors.log(&format!("compose: {request} -> failed: {error}"));
                return Err(error);
            }
        };
        let bytes = Rc::new(Cell::new(0u64));
        let counter = Rc::clone(&bytes);
        let body = body.inspect(move |piece| counter.set(counter.get() + piece.len() as u64));
        // The body is dropped when the server is done sending it: the moment to measure.
        Ok(body.on_close(move || {
            let status = status.get().map_or("-".to_owned(), |code| code.to_string());
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            let sent = bytes.get();
            errors.log(&format!(
                "compose: {request} -> {status}, {sent} bytes in {elapsed:.1} ms"
            ));
        }))
    }
}

/// The whole composition, as `main` serves it.
pub fn app() -> impl Application + Send {
    let mount = Mount::new().at("hello", hello).at("demo", demo_app);
    validator(Timing(mount))
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8003";

fn main() {
    let port = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let address = format!("127.0.0.1:{port}");
    match Server::bind(&address, app()) {
        Ok(server) => {
            println!(
                "compose: development server at {} (Ctrl+C to quit); try {}hello/there?name=Ada",
                server.url(),
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!("compose: cannot listen on {address}: {error} (give another port: cargo run --example compose -- 8011)");
            std::process::exit(2);
        }
    }
}
