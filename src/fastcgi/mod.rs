//! FastCGI 1.0, the application's side: the responder that runs an application behind nginx,
//! lighttpd or Apache.
//!
//! Stage: **read request** and the stages that write the response, for the FastCGI transport.
//! So far only the wire format is here: [`record`], the 8-byte record header and the
//! name-value pairs, drawn next to the code that reads and writes them.

pub mod record;
