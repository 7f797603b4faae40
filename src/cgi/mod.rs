//! CGI, the program's side (RFC 3875): the gateway behind a web server.
//!
//! Stage: **build environ** for every gateway that runs behind a web server. A web server
//! describes each request with the CGI meta-variables of RFC 3875 §4.1 — in a CGI program's
//! process environment, in FastCGI's `PARAMS` records, in SCGI's netstring — and
//! `variables.rs` turns them into an environ's variables, one way for all of them.
//!
//! `program.rs` is a CGI program itself: started by a web server for one request, it builds the
//! environ from its process environment, reads the body from standard input, runs the
//! application through the engine, and writes the response to standard output. [`run`] is a
//! CGI program's whole `main`; [`run_with`] is the same over streams a test passes in.

mod program;
mod variables;

pub use program::{exit_code, run, run_with, Mode};
pub use variables::{environ_variables, VariableError, Variables, EXTRA_NAMES, RFC_3875_NAMES};
