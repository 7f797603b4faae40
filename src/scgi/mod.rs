//! SCGI, the application's side: a responder behind nginx (`scgi_pass`), lighttpd
//! (`mod_scgi`) or Apache (`mod_proxy_scgi`), speaking Neil Schemenauer's SCGI protocol.
//!
//! Stage: **read request**, for now: [`read_head`] reads the request header, whose wire format
//! `request.rs` draws. The server around it comes next.

mod request;

pub use request::{read_head, HeadError, Limits, RequestHead};
