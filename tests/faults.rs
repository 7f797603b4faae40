//! Fault tests: the server under things going wrong, on both sides of the connection.
//!
//! Stages: all of them — a fault can strike anywhere between **accept** and **finish**. The
//! promise tested everywhere is the same: a clear log line, the right status where one can
//! still be sent, and the next request served as if nothing happened.
//!
//! Most faults are tested next to the stage they strike; this file holds the rest and is the
//! map of where each one lives:
//!
//! | fault                                             | where it is tested |
//! |---------------------------------------------------|--------------------|
//! | app panics before `start_response`                | `app_behaviour.rs`: `panic_before_start_response_is_a_500_with_the_location_logged` |
//! | app panics after `start_response`                 | `app_behaviour.rs`: `panic_after_start_response_is_still_a_500` |
//! | app panics inside the body iterator, mid-stream   | `app_behaviour.rs`: `body_iterator_panicking_mid_stream_cuts_the_response_short` |
//! | app panics in the body's clean-up                 | `app_behaviour.rs`: `panicking_clean_up_is_logged_and_the_response_is_intact` |
//! | client resets mid-request                         | here: `a_client_that_resets_mid_body_is_logged_and_the_server_goes_on` |
//! | client resets mid-response                        | `server_lifecycle.rs`: `a_client_that_leaves_mid_response_is_one_log_line` |
//! | client closes mid-request head                    | `server_lifecycle.rs`: `a_client_that_leaves_mid_request_head_is_one_log_line` |
//! | client never sends anything                       | `server_lifecycle.rs`: `an_idle_connection_is_closed_without_a_response` |
//! | an idle connection open while the server stops    | `server_lifecycle.rs`: `stop_is_prompt_while_an_idle_connection_is_open` |
//! | a request body that stops arriving                | `request_bodies.rs`: `a_stalled_body_costs_the_next_client_one_timeout_not_a_drain_too` |
//! | slowloris                                         | `server_lifecycle.rs`: `slowloris_gets_408_once_the_head_deadline_passes` |
//! | a client that stops reading                       | `server_lifecycle.rs`: `a_client_that_stops_reading_is_abandoned_after_the_write_timeout` |
//! | a client that stops reading mid-download          | `server_lifecycle.rs`: `a_downloading_client_that_stops_reading_is_dropped_after_one_write_timeout` |
//! | a client that reads slowly but keeps reading      | `server_lifecycle.rs`: `a_slow_reader_that_keeps_reading_gets_the_whole_body` |
//! | 32 clients connecting at once                     | `server_lifecycle.rs`: `thirty_two_clients_at_once_are_all_served` |
//! | body reader used after the response ended         | `request_bodies.rs`: `a_body_reader_kept_past_its_response_gives_an_error_not_a_panic` |
//! | mutated and malformed requests of every kind      | `fuzz_requests.rs` |
//!
//! A test at the bottom checks this table against the test files, so it cannot go stale.

mod common;

use std::io::Write;
use std::time::Duration;

#[test]
fn a_client_that_resets_mid_body_is_logged_and_the_server_goes_on() {
    let server = common::start(common::read_whole_body);
    let mut client = common::connect(server.addr);
    client
        .write_all(b"PUT /upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    // Wait until the server's "100 Continue" has arrived, without reading it: `peek` looks at
    // the bytes and leaves them queued.
    let mut first = [0u8; 12];
    let seen = client.peek(&mut first).unwrap();
    assert_eq!(&first[..seen], &b"HTTP/1.1 100"[..seen]);
    client.write_all(&[b'x'; 1000]).unwrap();
    // Closing a socket with unread bytes queued (our unread 100 Continue) makes the kernel send
    // a reset (RST) instead of the usual FIN: the abrupt disconnect this test is about.
    drop(client);

    // The server still serves the next client; once it has, the reset request is fully logged.
    assert_eq!(server.ping().status, 200);
    let log = server.log_text();
    assert!(log.contains("call app: application error: "), "{log}");
    // The app's read failed with an error that says what happened to the body...
    assert!(
        log.contains("call app: application error: the client reset the connection after sending 1000 body bytes"),
        "{log}"
    );
    // ...and the access line does not claim a response the client never got.
    assert!(log.contains("\"PUT /upload HTTP/1.1\" - 0"), "{log}");
}

#[test]
fn a_client_that_resets_before_sending_its_body_is_logged_and_the_server_goes_on() {
    // Same, but the reset comes before a single body byte.
    let server = common::start_with(common::read_whole_body, |config| {
        config.timeouts.body_read = Duration::from_secs(5);
    });
    let mut client = common::connect(server.addr);
    client
        .write_all(
            b"POST / HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
        )
        .unwrap();
    let mut first = [0u8; 12];
    client.peek(&mut first).unwrap();
    drop(client);
    assert_eq!(server.ping().status, 200);
    assert!(
        server.log_text().contains("call app: application error: "),
        "{}",
        server.log_text()
    );
}

#[test]
fn the_fault_map_names_tests_that_exist() {
    let map = std::fs::read_to_string("tests/faults.rs").unwrap();
    for row in map
        .lines()
        .filter(|l| l.starts_with("//! |") && l.contains(".rs`: `"))
    {
        let (file, test) = row.split_once(".rs`: `").unwrap();
        let file = format!("tests/{}.rs", file.rsplit('`').next().unwrap());
        let test = test.split('`').next().unwrap();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{file} exists"));
        assert!(
            text.contains(&format!("fn {test}(")),
            "{file} has no test `{test}`"
        );
    }
}
