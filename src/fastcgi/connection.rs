//! One connection from a web server, and every request on it, for the FastCGI responder.
//!
//! Stages: **read request** (BEGIN_REQUEST, PARAMS), **build environ** (PARAMS through
//! `crate::cgi`), the engine's **call app**, **send headers**, **send body**, then **finish**
//! (drain STDIN, END_REQUEST, keep or close). This is `src/server/connection.rs` for FastCGI;
//! the records themselves are `wire.rs`'s business.
//!
//! Interface: [`serve`] takes an accepted connection and returns when it is closed. It never
//! fails and never panics on what the web server sends: every problem becomes a response
//! where one can still be sent, and a log line.
//!
//! ```text
//!   wait for BEGIN_REQUEST      Timeouts::first_record; kept: keep_conn_idle   none → close
//!   collect PARAMS to the end   Timeouts::params, Limits::max_params_bytes     too big → 431
//!   build the environ           cgi::environ_variables                         bad → 400
//!   run the application         the engine: STDIN is its Input, STDERR its errors
//!   write the access-log line
//!   drain the STDIN it left     Timeouts::drain, Limits::max_drain_bytes       too much → close
//!   END_REQUEST                 one write, with the empty records that end the streams
//!   KEEP_CONN and nobody waiting? wait for the next request : lingering close
//! ```
//!
//! The application starts only after the empty PARAMS record (§6.2: the environ is complete
//! by then) and reads STDIN as it goes, so a large upload streams through in constant memory.
//!
//! A web server that closes the connection while a request is active has abandoned it: that
//! is how nginx aborts a request whose client left (it never sends ABORT_REQUEST). One log
//! line, nothing more is sent, and the next connection is served.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::record::{parse_pairs, Pair};
use super::wire::{Arrived, Broke, FcgiTransport, StderrSink, StdinReader, Wire};
use super::{Config, IDLE_POLL, RAW_PARAMS};
use crate::cgi::{environ_variables, Variables};
use crate::engine::{self, Ending, Outcome};
use crate::gateway::{Application, Environ, ErrorStream, Input, Status};
use crate::net::{deadline_after, Limit, Peer, Stream};
use crate::observe::Event;
use crate::Stage;

/// What the connection needs from the server around it.
pub(super) struct Hooks<'h> {
    /// Set when the server should stop: a kept connection is closed instead of kept.
    pub(super) stop: &'h AtomicBool,
    /// True if another connection is waiting to be served (see the module docs of `fastcgi`).
    pub(super) others_waiting: &'h dyn Fn() -> bool,
}

/// Serves every request on `stream`, then closes it. See the module docs.
pub(super) fn serve<A>(stream: Stream, peer: Peer, app: &A, config: &Config, hooks: &Hooks<'_>)
where
    A: Application + ?Sized,
{
    let accepted = Instant::now();
    let wire = match Wire::open(stream, peer, config) {
        Ok(wire) => Rc::new(RefCell::new(wire)),
        Err(error) => {
            let message = format!(
                "{}: setting up the connection failed: {error}",
                Stage::Accept
            );
            return config.log.line(&peer.name(), &message);
        }
    };
    let first = Limit::deadline_after(accepted, config.timeouts.first_record);
    let mut begun = wait_for_request(&wire, first, true, config);
    while begun {
        let keep = serve_request(&wire, app, config);
        if !keep || hooks.stop.load(Ordering::SeqCst) {
            break;
        }
        begun = wait_for_next_request(&wire, hooks, config);
    }
    if let Ok(mut wire) = wire.try_borrow_mut() {
        // Told first, so that by the time the web server sees the end, the trace has it.
        wire.observe(Event::Closed);
        wire.close();
    };
}

/// Reads records until a BEGIN_REQUEST we accept; false if the connection should close.
/// Management records are answered meanwhile, and records of finished requests ignored.
fn wait_for_request(wire: &Rc<RefCell<Wire>>, limit: Limit, first: bool, config: &Config) -> bool {
    let mut wire = wire.borrow_mut();
    loop {
        match wire.next(limit) {
            Ok(Arrived::Begun) => return true,
            // §5.1: without KEEP_CONN we close "after responding to this request", and the
            // refusal was the response.
            Ok(Arrived::Refused { keep_conn: false }) => return false,
            Ok(_) => continue,
            Err(broke) => {
                report_wait_end(&mut wire, broke, first, config);
                return false;
            }
        }
    }
}

/// Says why a connection ended between requests, where that is worth a line.
fn report_wait_end(wire: &mut Wire, broke: Broke, first: bool, config: &Config) {
    match broke {
        // The web server closed a connection it no longer needs, or a port check: quiet.
        Broke::Closed => {}
        Broke::TimedOut if first => {
            let waited = config.timeouts.first_record;
            let message =
                format!("closed a connection that sent no BEGIN_REQUEST within {waited:?}");
            wire.log(Stage::ReadRequest, &message);
        }
        Broke::TimedOut => log_idle_close(wire, config),
        Broke::Gone(why) => wire.log(Stage::ReadRequest, &why),
        Broke::Protocol(_) => {} // logged where it was found
        Broke::Http => wire.write_raw(http_answer().as_bytes()),
    }
}

fn log_idle_close(wire: &Wire, config: &Config) {
    let idle = config.timeouts.keep_conn_idle;
    let message = format!(
        "closed a kept connection after {idle:?} without a new request \
         (Timeouts::keep_conn_idle); the web server opens another when it needs one"
    );
    wire.log(Stage::ReadRequest, &message);
}

/// What an HTTP client that reached the FastCGI port gets, so that `curl` shows the mistake.
fn http_answer() -> String {
    let body =
        "This port speaks FastCGI, not HTTP: point a web server here (nginx: fastcgi_pass),\n\
                or run rgiref without --fastcgi to serve HTTP.\n";
    format!(
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// On a kept connection: waits for the next request, but gives the connection up as soon as
/// another one is waiting or the server is stopping, and after `Timeouts::keep_conn_idle`
/// (the trade-off is in the module docs of `fastcgi`). True if a request began.
fn wait_for_next_request(wire: &Rc<RefCell<Wire>>, hooks: &Hooks<'_>, config: &Config) -> bool {
    let idle = config.timeouts.keep_conn_idle;
    let deadline = deadline_after(Instant::now(), idle);
    // First without waiting: right after a response, the web server has not had time to send
    // its next request, and another connection in the queue is owed its turn now.
    let mut wait = Limit::NoWait;
    loop {
        if wire.borrow_mut().bytes_arrive(wait) {
            break;
        }
        if (hooks.others_waiting)() || hooks.stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log_idle_close(&wire.borrow(), config);
            return false;
        }
        wait = Limit::Idle(IDLE_POLL.min(left));
    }
    let limit = Limit::deadline_after(Instant::now(), idle);
    wait_for_request(wire, limit, false, config)
}

/// How collecting PARAMS ended.
enum Params {
    /// All of them, up to the empty record.
    Complete(Vec<u8>),
    /// More than `Limits::max_params_bytes`: this many, read and thrown away.
    TooLarge(u64),
    /// ABORT_REQUEST came first.
    Aborted,
    /// The connection broke (logged).
    Broken,
}

/// Serves the request that has just begun. True if the connection is to be kept.
fn serve_request<A>(wire: &Rc<RefCell<Wire>>, app: &A, config: &Config) -> bool
where
    A: Application + ?Sized,
{
    let Some((id, serial)) = wire.borrow().request.as_ref().map(|r| (r.id, r.serial)) else {
        return false;
    };
    let mut transport = FcgiTransport {
        wire: Rc::clone(wire),
        serial,
        observer: config.observer.clone(),
        cut_short: false,
    };
    let (outcome, described) = match read_params(wire, id, config) {
        Params::Complete(params) => run(wire, app, config, &params, &mut transport),
        Params::TooLarge(total) => {
            let max = config.limits.max_params_bytes;
            let message = format!(
                "the request's FastCGI PARAMS are {total} bytes, more than the limit of {max} \
                 (Limits::max_params_bytes)"
            );
            let described = Described::unknown(&wire.borrow().peer);
            let status = Status::HEADER_FIELDS_TOO_LARGE;
            (
                refuse(wire, &mut transport, &described, status, &message),
                described,
            )
        }
        Params::Aborted => return finish(wire, false),
        Params::Broken => return false,
    };
    access_log(wire, config, &described, &outcome);
    finish(wire, transport.cut_short)
}

/// Collects the active request's PARAMS to their empty record (§5.2).
fn read_params(wire: &Rc<RefCell<Wire>>, id: u16, config: &Config) -> Params {
    let mut wire = wire.borrow_mut();
    let limit = Limit::deadline_after(Instant::now(), config.timeouts.params);
    let max = config.limits.max_params_bytes as u64;
    let give_up = max.saturating_add(config.limits.max_drain_bytes);
    let mut params = Vec::new();
    let mut total = 0u64;
    loop {
        match wire.next(limit) {
            Ok(Arrived::Params(bytes)) => {
                total += bytes.len() as u64;
                if total > give_up {
                    let message = format!("request {id}'s PARAMS go on past {give_up} bytes");
                    wire.log(Stage::ReadRequest, &message);
                    return Params::Broken;
                }
                if total > max {
                    params = Vec::new(); // too large: read the rest, keep none of it
                } else if params.is_empty() {
                    params = bytes; // usually the only PARAMS record: no copy
                } else {
                    params.extend_from_slice(&bytes);
                }
            }
            Ok(Arrived::ParamsEnded) if total > max => return Params::TooLarge(total),
            Ok(Arrived::ParamsEnded) => return Params::Complete(params),
            Ok(Arrived::Aborted) => return Params::Aborted,
            Ok(_) => continue,
            Err(broke) => {
                let message = match broke {
                    Broke::TimedOut => format!(
                        "request {id}'s PARAMS did not end within {:?} (Timeouts::params)",
                        config.timeouts.params
                    ),
                    Broke::Protocol(_) | Broke::Http => return Params::Broken, // logged
                    other => format!("{other} in the middle of request {id}'s PARAMS"),
                };
                wire.log(Stage::ReadRequest, &message);
                return Params::Broken;
            }
        }
    }
}

/// Who asked for what, for the access log: the request line, rebuilt from the CGI
/// variables, and the browser's address (`REMOTE_ADDR`), or the web server's if there is none.
struct Described {
    request_line: String,
    client: String,
    method: String,
}

impl Described {
    fn from_pairs(pairs: &[Pair<'_>], peer: &str) -> Described {
        let get = |name: &str| {
            pairs
                .iter()
                .rev() // the last of two with the same name wins, as in the environ
                .find(|(n, _)| *n == name.as_bytes())
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
        };
        let method = get("REQUEST_METHOD").unwrap_or_default();
        let target = get("REQUEST_URI").unwrap_or_else(|| "-".to_owned());
        let protocol = get("SERVER_PROTOCOL").unwrap_or_else(|| "-".to_owned());
        Described {
            request_line: format!("{method} {target} {protocol}"),
            client: get("REMOTE_ADDR").unwrap_or_else(|| peer.to_owned()),
            method,
        }
    }

    fn unknown(peer: &str) -> Described {
        Described {
            request_line: "-".to_owned(),
            client: peer.to_owned(),
            method: String::new(),
        }
    }
}

/// Stage "build environ", then the engine's stages: the application's response, or the
/// error page for a request that cannot be described.
fn run<A>(
    wire: &Rc<RefCell<Wire>>,
    app: &A,
    config: &Config,
    params: &[u8],
    transport: &mut FcgiTransport,
) -> (Outcome, Described)
where
    A: Application + ?Sized,
{
    let peer = wire.borrow().peer.clone();
    let pairs = match parse_pairs(params) {
        Ok(pairs) => pairs,
        Err(error) => {
            let described = Described::unknown(&peer);
            let message = format!("the web server sent malformed PARAMS: {error}");
            let outcome = refuse(wire, transport, &described, Status::BAD_REQUEST, &message);
            return (outcome, described);
        }
    };
    let described = Described::from_pairs(&pairs, &peer);
    let variables = match environ_variables(pairs.iter().copied()) {
        Ok(variables) => variables,
        Err(error) => {
            let outcome = refuse(wire, transport, &described, error.status, &error.message);
            return (outcome, described);
        }
    };
    wire.borrow().observe(Event::Environ {
        vars: &variables.vars,
    });
    let mut environ = environ_for(wire, config, variables, &described, transport.serial);
    if config.raw_params_to_app {
        environ
            .extensions
            .insert(RAW_PARAMS.to_owned(), params.to_vec());
    }
    (engine::run(app, environ, transport), described)
}

/// The environ from the checked variables: STDIN as its `Input`, STDERR as its error stream.
fn environ_for(
    wire: &Rc<RefCell<Wire>>,
    config: &Config,
    variables: Variables,
    described: &Described,
    serial: u64,
) -> Environ {
    let mut wire_now = wire.borrow_mut();
    for note in &variables.left_out {
        wire_now.log(Stage::BuildEnviron, note);
    }
    if let Some(request) = wire_now.request.as_mut() {
        request.content_length = variables
            .vars
            .get("CONTENT_LENGTH")
            .and_then(|length| length.parse().ok());
    }
    drop(wire_now);
    let errors = StderrSink {
        wire: Rc::clone(wire),
        serial,
        log: config.log.clone(),
        client: described.client.clone(),
        to_log: config.stderr_to_log,
    };
    let input = StdinReader {
        wire: Rc::clone(wire),
        serial,
    };
    let mut environ = Environ::new(variables.vars, Input::new(input), ErrorStream::new(errors));
    environ.url_scheme = variables.url_scheme;
    environ.multithread = false;
    // True: a web server may run several responder processes of the same application (lighttpd
    // "max-procs", several `rgiref --fastcgi` behind one nginx upstream), each one thread.
    environ.multiprocess = true;
    environ.run_once = false;
    environ
}

/// Answers a request we will not run with an error page, and logs why.
fn refuse(
    wire: &Rc<RefCell<Wire>>,
    transport: &mut FcgiTransport,
    described: &Described,
    status: Status,
    message: &str,
) -> Outcome {
    wire.borrow()
        .log(Stage::BuildEnviron, &format!("{status}: {message}"));
    engine::send_error(transport, &described.method, status, message)
}

/// The access-log line, in the HTTP server's format. A response the web server cannot have
/// received (it is gone, or it aborted the request) has no status: `-`.
fn access_log(wire: &Rc<RefCell<Wire>>, config: &Config, described: &Described, outcome: &Outcome) {
    if !config.access_log {
        return;
    }
    let wire = wire.borrow();
    let aborted = wire.request.as_ref().is_some_and(|r| r.aborted);
    let received = !wire.is_write_broken() && !aborted;
    let (status, bytes) = match outcome.status {
        Some(code) if received => (code.to_string(), outcome.body_bytes),
        _ if outcome.ending == Ending::PeerGone => ("-".to_owned(), outcome.body_bytes),
        _ => ("-".to_owned(), 0),
    };
    let line = format!("\"{}\" {status} {bytes}", described.request_line);
    config.log.line(&described.client, &line);
}

/// Stage "finish": ends the request and decides whether the connection stays. A response cut
/// short gets no END_REQUEST (`Transport::abort`); otherwise the STDIN the application left is
/// drained to its end, so the next request's records come next, and END_REQUEST goes out.
fn finish(wire: &Rc<RefCell<Wire>>, cut_short: bool) -> bool {
    let Ok(mut wire) = wire.try_borrow_mut() else {
        return false;
    };
    if cut_short || wire.is_write_broken() {
        wire.abandon_request();
        return false;
    }
    let drained = wire.drain_stdin();
    if let Err(why) = &drained {
        let message = format!(
            "stopped reading the request body the application left unread ({why}); closing \
             the connection"
        );
        wire.log(Stage::Finish, &message);
    }
    let Some((id, aborted, keep_conn)) = wire
        .request
        .as_ref()
        .map(|r| (r.id, r.aborted, r.keep_conn))
    else {
        return false;
    };
    if aborted {
        let message = format!("the web server aborted request {id} (ABORT_REQUEST)");
        wire.log(Stage::Finish, &message);
    }
    let ended = wire.end_request();
    ended.is_ok() && drained.is_ok() && keep_conn && !wire.is_read_broken()
}
