//! Randomized robustness tests of the FastCGI responder: mutated record streams, in memory and
//! through a live responder.
//!
//! Stages: **read request** (`record::read_record`, `record::parse_pairs`, the dispatcher in
//! `src/fastcgi/wire.rs`) and everything after it, through a live server.
//!
//! How it works, as in `tests/fuzz_requests.rs`: take a valid conversation from a small corpus
//! (a GET, a POST, two requests on a kept connection, GET_VALUES, a streamed upload, an abort),
//! damage it, send it, check the promises. The damage comes in two layers:
//!
//! * FastCGI-aware mutators (here) edit *records*: the version, type, request id and padding
//!   bytes; a `contentLength` that lies; records dropped, doubled, swapped or split; BEGIN_REQUEST
//!   roles and flags; name-value lengths inside PARAMS; management records and aborts inserted.
//! * Byte-level mutators (`common::fuzz`) then flip bits, drop, repeat and splice, with a
//!   dictionary of record headers, length bytes and HTTP request lines.
//!
//! The promises, for every input: the responder never panics; what it sends is well-formed
//! records of the types a responder may send (management answers on id 0, the rest not); every
//! STDOUT stream starts with a `Status:` head; END_REQUEST never comes more often for an id than
//! BEGIN_REQUEST did; the connection ends (the client half-closes, so a working responder never
//! waits out a timeout); and the next connection is served. In memory, the record reader and the
//! pair parser never panic and never hand out more than a record can hold.
//!
//! ```text
//!   RGIREF_FUZZ_CASES=100000 RGIREF_FUZZ_SEED=42 cargo test --release --test fuzz_fastcgi
//! ```
//!
//! `RGIREF_FUZZ_CASES` is the number of in-memory cases; the socket test runs a tenth as many.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use common::fcgi_client::{
    self as fcgi, pair, FcgiRequest, ABORT_REQUEST, BEGIN_REQUEST, END_REQUEST, GET_VALUES,
    GET_VALUES_RESULT, PARAMS, STDERR, STDIN, STDOUT, UNKNOWN_TYPE,
};
use common::fuzz::{rust_literal, Campaign, Mutator, Rng};
use rgiref::fastcgi::record::{parse_pairs, read_record, RecordError};
use rgiref::fastcgi::{Address, Timeouts};
use rgiref::gateway::{AppError, Body, Environ, StartResponse};

// =============================================================================================
// FastCGI knowledge: records as parts, the corpus, the dictionary, the record mutators
// =============================================================================================

/// A record in parts, so a mutator can change one field and leave the rest valid.
#[derive(Debug, Clone)]
struct Raw {
    version: u8,
    kind: u8,
    id: u16,
    content: Vec<u8>,
    padding: u8,
    /// A `contentLength` that differs from the content's real length.
    lying_length: Option<u16>,
}

impl Raw {
    fn new(kind: u8, id: u16, content: &[u8]) -> Raw {
        Raw {
            version: 1,
            kind,
            id,
            content: content.to_vec(),
            padding: ((8 - content.len() % 8) % 8) as u8,
            lying_length: None,
        }
    }
}

fn render(records: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let length = r.lying_length.unwrap_or(r.content.len().min(65535) as u16);
        out.extend_from_slice(&[r.version, r.kind]);
        out.extend_from_slice(&r.id.to_be_bytes());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&[r.padding, 0]);
        out.extend_from_slice(&r.content[..r.content.len().min(65535)]);
        out.extend(std::iter::repeat_n(0u8, usize::from(r.padding)));
    }
    out
}

/// Well-formed bytes (from the test client's builders) back into records.
fn parts(mut bytes: &[u8]) -> Vec<Raw> {
    let mut records = Vec::new();
    while bytes.len() >= 8 {
        let length = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        let padding = bytes[6];
        let id = u16::from_be_bytes([bytes[2], bytes[3]]);
        let mut raw = Raw::new(bytes[1], id, &bytes[8..8 + length]);
        raw.padding = padding;
        records.push(raw);
        bytes = &bytes[8 + length + usize::from(padding)..];
    }
    records
}

/// The valid conversations the mutations start from.
fn corpus() -> Vec<Vec<Raw>> {
    let get = FcgiRequest::get("/a?b=c").bytes();
    let post = FcgiRequest::post("/upload", &[b'u'; 3000])
        .piece(1000)
        .bytes();
    let mut kept = FcgiRequest::post("/1", b"first body").keep().bytes();
    kept.extend(FcgiRequest::get("/2").id(2).bytes());
    let mut values = fcgi::record(GET_VALUES, 0, &pair(b"FCGI_MAX_CONNS", b""));
    values.extend(fcgi::record(GET_VALUES, 0, &pair(b"FCGI_MPXS_CONNS", b"")));
    values.extend(FcgiRequest::get("/").bytes());
    let streamed = FcgiRequest::get("/stream")
        .param("REQUEST_METHOD", "PUT")
        .body(&[b's'; 500])
        .piece(64)
        .bytes();
    let tiny_params = FcgiRequest::get("/tiny").piece(3).bytes();
    let mut aborted = FcgiRequest::post("/", &[b'a'; 200]).keep().head_bytes();
    aborted.extend(fcgi::record(STDIN, 1, &[b'a'; 50]));
    aborted.extend(fcgi::record(ABORT_REQUEST, 1, b""));
    aborted.extend(FcgiRequest::get("/after").id(3).bytes());
    let mut multiplexed = FcgiRequest::post("/", b"x").keep().head_bytes();
    multiplexed.extend(fcgi::begin(2, fcgi::RESPONDER, false));
    multiplexed.extend(fcgi::record(UNKNOWN_TYPE + 20, 0, b"new"));
    multiplexed.extend(fcgi::stream(STDIN, 1, b"x", 1));
    let long_value = FcgiRequest::get("/long")
        .param("HTTP_X_LONG", &"L".repeat(300))
        .bytes();
    [
        get,
        post,
        kept,
        values,
        streamed,
        tiny_params,
        aborted,
        multiplexed,
        long_value,
    ]
    .iter()
    .map(|bytes| parts(bytes))
    .collect()
}

/// Bytes that mean something to a FastCGI reader.
const DICTIONARY: &[&[u8]] = &[
    &[1, BEGIN_REQUEST, 0, 1, 0, 8, 0, 0],
    &[0, 1, 1, 0, 0, 0, 0, 0], // a BEGIN_REQUEST body: RESPONDER, KEEP_CONN
    &[1, PARAMS, 0, 1, 0, 0, 0, 0],
    &[1, STDIN, 0, 1, 0, 0, 0, 0],
    &[1, ABORT_REQUEST, 0, 1, 0, 0, 0, 0],
    &[1, GET_VALUES, 0, 0, 0, 0, 0, 0],
    &[0x80, 0, 0, 0],
    &[0xff, 0xff, 0xff, 0xff],
    &[0x7f],
    &[0xff],
    &[0],
    b"GET / HTTP/1.1\r\n",
    b"CONTENT_LENGTH",
    b"REQUEST_METHOD",
];

/// Edits one record field, or the list of records.
fn mutate_records(rng: &mut Rng, records: &mut Vec<Raw>) -> String {
    if records.is_empty() {
        records.push(Raw::new(BEGIN_REQUEST, 1, &[0, 1, 0, 0, 0, 0, 0, 0]));
        return "a BEGIN_REQUEST from nothing".to_owned();
    }
    let count = records.len();
    let at = rng.below(count);
    let r = &mut records[at];
    match rng.below(14) {
        0 => {
            r.version = *rng.pick(&[0, 2, b'G', b'H', 255]);
            format!("#{at} version {}", r.version)
        }
        1 => {
            r.kind = *rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 255]);
            format!("#{at} type {}", r.kind)
        }
        2 => {
            let random = u16::from(rng.byte());
            r.id = *rng.pick(&[0, 1, 2, 3, 0xffff, random]);
            format!("#{at} id {}", r.id)
        }
        3 => {
            let real = r.content.len();
            let lie = match rng.below(4) {
                0 => 0,
                1 => 65535,
                2 => real.saturating_sub(rng.range(1..=8)),
                _ => real + rng.range(1..=8),
            };
            r.lying_length = Some(lie.min(65535) as u16);
            format!("#{at} contentLength {lie} for {real}")
        }
        4 => {
            r.padding = rng.byte();
            format!("#{at} padding {}", r.padding)
        }
        5 => {
            records.remove(at);
            format!("#{at} dropped")
        }
        6 => {
            let copy = r.clone();
            records.insert(at, copy);
            format!("#{at} doubled")
        }
        7 if at + 1 < count => {
            records.swap(at, at + 1);
            format!("#{at} swapped with the next")
        }
        8 if r.content.len() > 1 => {
            let cut = rng.range(1..=r.content.len() - 1);
            let tail = Raw::new(r.kind, r.id, &r.content[cut..]);
            r.content.truncate(cut);
            r.padding = ((8 - cut % 8) % 8) as u8;
            records.insert(at + 1, tail);
            format!("#{at} split at {cut}")
        }
        9 if r.kind == BEGIN_REQUEST && r.content.len() >= 3 => {
            r.content[1] = *rng.pick(&[0, 1, 2, 3, 9]);
            r.content[2] = rng.byte();
            format!("#{at} role {} flags {}", r.content[1], r.content[2])
        }
        10 if r.kind == PARAMS && !r.content.is_empty() => {
            let i = rng.below(r.content.len());
            r.content[i] = *rng.pick(&[0x7f, 0x80, 0xff, 0]);
            format!("#{at} PARAMS byte {i} = {:#x}", r.content[i])
        }
        11 => {
            let management = match rng.below(2) {
                0 => Raw::new(GET_VALUES, 0, &pair(b"FCGI_MAX_REQS", b"")),
                _ => Raw::new(rng.byte(), 0, b"?"),
            };
            records.insert(at, management);
            format!("#{at} management record inserted")
        }
        12 => {
            records.insert(at, Raw::new(ABORT_REQUEST, 1, b""));
            format!("#{at} ABORT_REQUEST inserted")
        }
        _ => {
            records.truncate(at);
            format!("cut after #{at}")
        }
    }
}

/// One input: a corpus entry, some record mutations, then maybe some byte mutations.
fn input(
    rng: &mut Rng,
    corpus: &[Vec<Raw>],
    donors: &[Vec<u8>],
    max_len: usize,
) -> (Vec<u8>, Vec<String>) {
    let entry = rng.below(corpus.len());
    let mut records = corpus[entry].clone();
    let mut trail = vec![format!("corpus #{entry}")];
    for _ in 0..rng.range(0..=3) {
        trail.push(mutate_records(rng, &mut records));
    }
    let mut bytes = render(&records);
    if rng.one_in(2) {
        let mutator = Mutator {
            dictionary: DICTIONARY,
            donors,
            max_len,
        };
        let rounds = rng.range(1..=4);
        trail.extend(mutator.havoc(rng, &mut bytes, rounds));
    }
    bytes.truncate(max_len);
    (bytes, trail)
}

// =============================================================================================
// In memory: the record reader and the pair parser
// =============================================================================================

#[test]
fn record_reader_and_pair_parser_survive_mutated_streams() {
    let campaign = Campaign::new(
        module_path!(),
        "record_reader_and_pair_parser_survive_mutated_streams",
        3000,
        1,
    );
    let corpus = corpus();
    let donors: Vec<Vec<u8>> = corpus.iter().map(|c| render(c)).collect();
    for case in 0..campaign.cases {
        let mut rng = campaign.rng(case);
        let (bytes, trail) = input(&mut rng, &corpus, &donors, 16 * 1024);
        campaign.check(case, &bytes, &trail, || read_all_in_memory(&bytes));
    }
}

/// Reads records until the end or an error, parsing every PARAMS-like content as pairs.
fn read_all_in_memory(bytes: &[u8]) -> Result<(), String> {
    let mut reader = bytes;
    let mut records = 0;
    loop {
        let before = reader.len();
        match read_record(&mut reader) {
            Ok(None) => return Ok(()),
            Ok(Some(record)) => {
                if record.content.len() > 65535 || before - reader.len() > 8 + 65535 + 255 {
                    return Err(format!(
                        "a record too large: {} bytes",
                        record.content.len()
                    ));
                }
                if let Ok(pairs) = parse_pairs(&record.content) {
                    let inside: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
                    if inside > record.content.len() {
                        return Err("pairs larger than their record".to_owned());
                    }
                }
                records += 1;
            }
            Err(RecordError::Io(error)) => {
                return Err(format!("an I/O error from memory: {error}"))
            }
            Err(error) => {
                // Every error says something, in one line.
                let text = error.to_string();
                if text.is_empty() || text.contains('\n') {
                    return Err(format!(
                        "a bad error message after {records} records: {text:?}"
                    ));
                }
                return Ok(());
            }
        }
    }
}

// =============================================================================================
// Through a live responder
// =============================================================================================

/// Reads the body (when there is one), writes a line to the error stream, and answers.
fn reads_and_logs(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    writeln!(environ.errors, "read {} bytes", body.len())?;
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("read {} bytes\n", body.len())))
}

/// Inputs are cut to this length: small enough that a case is cheap.
const SOCKET_MAX_LEN: usize = 8 * 1024;

#[test]
fn responder_survives_mutated_record_streams() {
    let campaign = Campaign::new(
        module_path!(),
        "responder_survives_mutated_record_streams",
        300,
        10,
    );
    let server = fcgi::start_with(reads_and_logs, |config| {
        // Short, because a broken responder costs one of these per case; the client
        // half-closes after sending, so a working one never waits for any of them.
        config.timeouts = Timeouts {
            first_record: Duration::from_millis(300),
            keep_conn_idle: Duration::from_millis(300),
            params: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            write: Duration::from_secs(1),
            drain: Duration::from_millis(300),
        };
    });
    let Address::Tcp(addr) = server.address.clone() else {
        unreachable!()
    };
    let corpus = corpus();
    let donors: Vec<Vec<u8>> = corpus.iter().map(|c| render(c)).collect();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for case in 0..campaign.cases {
        let mut rng = campaign.rng(case);
        let (bytes, trail) = input(&mut rng, &corpus, &donors, SOCKET_MAX_LEN);
        let kind = campaign.check(case, &bytes, &trail, || {
            server.log.clear();
            let (answer, reset) = exchange(addr, &bytes)?;
            let kind = check_answer(&bytes, &answer, reset)?;
            let ping = server.ping();
            if ping.end.is_none() || ping.response().status != 200 {
                return Err(format!(
                    "the next request was not served: {ping:?}\nlog:\n{}",
                    server.log_text()
                ));
            }
            let log = server.log_text();
            if log.contains("panicked") {
                return Err(format!("a panic in the log:\n{log}"));
            }
            Ok(kind)
        });
        *tally.entry(kind).or_default() += 1;
    }
    eprintln!(
        "{} socket cases, seed {}: {tally:?}",
        campaign.cases, campaign.seed
    );
}

/// One connection: send, half-close, read until the responder closes. Also says whether the
/// end was a reset (which may cut the last record short).
fn exchange(addr: SocketAddr, input: &[u8]) -> Result<(Vec<u8>, bool), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connecting failed: {e}"))?;
    stream
        .set_read_timeout(Some(common::CLIENT_TIMEOUT))
        .unwrap();
    stream
        .set_write_timeout(Some(common::CLIENT_TIMEOUT))
        .unwrap();
    // The responder may close before it has read everything: a failed write is not a failure.
    let _ = stream.write_all(input);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Ok((answer, false)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok((answer, true)),
        Err(e) => Err(format!(
            "the connection did not end ({e}) after {}",
            rust_literal(&answer)
        )),
    }
}

/// Checks what the responder sent; returns a word for the tally.
fn check_answer(input: &[u8], answer: &[u8], reset: bool) -> Result<&'static str, String> {
    if answer.starts_with(b"HTTP/1.0 400 Bad Request\r\n") {
        return Ok("http answer");
    }
    let records = records_of(answer, reset)?;
    let begun = begin_ids(input);
    let mut ended: BTreeMap<u16, usize> = BTreeMap::new();
    let mut stdout: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    for (kind, id, content) in &records {
        let management = matches!(*kind, GET_VALUES_RESULT | UNKNOWN_TYPE);
        if management != (*id == 0) {
            return Err(format!("type {kind} on request id {id}"));
        }
        match *kind {
            STDOUT => stdout.entry(*id).or_default().extend_from_slice(content),
            STDERR | GET_VALUES_RESULT | UNKNOWN_TYPE => {}
            END_REQUEST => {
                if content.len() != 8 {
                    return Err(format!("an END_REQUEST of {} bytes", content.len()));
                }
                if let Some(head) = stdout.remove(id) {
                    if !head.is_empty() && !head.starts_with(b"Status: ") {
                        return Err(format!(
                            "a response without a Status head: {}",
                            rust_literal(&head)
                        ));
                    }
                }
                *ended.entry(*id).or_default() += 1;
            }
            other => {
                return Err(format!(
                    "a record of type {other}, which a responder never sends"
                ))
            }
        }
    }
    for (id, count) in &ended {
        let allowed = begun.get(id).copied().unwrap_or(0);
        if *count > allowed {
            return Err(format!(
                "{count} END_REQUEST for id {id}, begun {allowed} times"
            ));
        }
    }
    Ok(match (records.is_empty(), ended.is_empty()) {
        (true, _) => "closed without a word",
        (false, true) => "records, no END_REQUEST",
        (false, false) => "END_REQUEST",
    })
}

/// The responder's records; a cut-off last record is allowed only after a reset.
fn records_of(mut answer: &[u8], reset: bool) -> Result<Vec<(u8, u16, Vec<u8>)>, String> {
    let mut records = Vec::new();
    while !answer.is_empty() {
        let whole = answer.len() >= 8 && {
            let length = usize::from(u16::from_be_bytes([answer[4], answer[5]]));
            answer.len() >= 8 + length + usize::from(answer[6])
        };
        if !whole {
            return match reset {
                true => Ok(records),
                false => Err(format!("a record cut short: {}", rust_literal(answer))),
            };
        }
        if answer[0] != 1 || answer[7] != 0 {
            return Err(format!("a bad record header: {:?}", &answer[..8]));
        }
        let length = usize::from(u16::from_be_bytes([answer[4], answer[5]]));
        let padding = usize::from(answer[6]);
        if (8 + length + padding) % 8 != 0 {
            return Err(format!(
                "a record not padded to 8 bytes: {:?}",
                &answer[..8]
            ));
        }
        let id = u16::from_be_bytes([answer[2], answer[3]]);
        records.push((answer[1], id, answer[8..8 + length].to_vec()));
        answer = &answer[8 + length + padding..];
    }
    Ok(records)
}

/// How many BEGIN_REQUEST records each id has in `input`, read as the responder reads it: from
/// the start, record by record, until a header is not version 1.
fn begin_ids(mut input: &[u8]) -> BTreeMap<u16, usize> {
    let mut begun = BTreeMap::new();
    while input.len() >= 8 && input[0] == 1 {
        let length = usize::from(u16::from_be_bytes([input[4], input[5]]));
        let total = 8 + length + usize::from(input[6]);
        if input[1] == BEGIN_REQUEST {
            *begun
                .entry(u16::from_be_bytes([input[2], input[3]]))
                .or_default() += 1;
        }
        input = &input[total.min(input.len())..];
    }
    begun
}
