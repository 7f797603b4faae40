//! CGI, the program's side (RFC 3875): the gateway behind a web server.
//!
//! Stage: **build environ** for every gateway that runs behind a web server. A web server
//! describes each request with the CGI meta-variables of RFC 3875 §4.1 — in a CGI program's
//! process environment, in FastCGI's `PARAMS` records, in SCGI's netstring — and
//! `variables.rs` turns them into an environ's variables, one way for all of them.

mod variables;

pub use variables::{environ_variables, VariableError, Variables, EXTRA_NAMES, RFC_3875_NAMES};
