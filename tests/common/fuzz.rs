//! Randomized robustness tests ("fuzzing") with nothing but std: a seeded random number
//! generator, byte-level mutators, and the settings that say how long to run.
//!
//! Stage: none by itself. This is the protocol-blind half of a fuzz test; the other half (a
//! corpus of valid inputs, a dictionary of tokens that matter, mutators that know the format)
//! lives in the test file that uses it — `tests/fuzz_requests.rs` for HTTP requests. A later
//! parser (FastCGI records, say) reuses this file with its own corpus and dictionary.
//!
//! The recipe, as the tests use it:
//!
//! ```text
//!   campaign = Campaign::new(...)          how many cases, which seed (from the environment)
//!   for case in 0..campaign.cases:
//!       rng   = campaign.rng(case)         a generator for this case alone
//!       input = a corpus entry, mutated    Mutator::havoc and the test's own mutators
//!       campaign.check(case, input, ...)   run the parser; a panic or Err prints how to reproduce
//! ```
//!
//! ## Settings
//!
//! * `RGIREF_FUZZ_CASES=N` — run `N` cases instead of the default (each test says what one
//!   "case" costs it, so a slower test runs fewer: see [`Campaign::new`]).
//! * `RGIREF_FUZZ_SEED=S` — a different seed (decimal, or hex with `0x`) for different inputs.
//!   Without it the seed is [`DEFAULT_SEED`], so `cargo test` runs the same inputs every time:
//!   a test that passes today and fails tomorrow must mean the code changed, not the dice.
//!
//! ```text
//!   RGIREF_FUZZ_CASES=100000 RGIREF_FUZZ_SEED=42 cargo test --release --test fuzz_requests
//! ```
//!
//! ## Reproducing a failure
//!
//! A failing case panics with its seed, its case number, the mutations that made it, and the
//! input itself as a Rust expression. Each case's generator depends only on (seed, test, case),
//! not on the cases before it, so the printed command (same seed, enough cases) makes exactly
//! the same input again — and the printed expression can be pasted into a regular test.

use std::fmt::Write as _;
use std::ops::RangeInclusive;

/// The environment variable that sets how many cases to run.
pub const CASES_VAR: &str = "RGIREF_FUZZ_CASES";
/// The environment variable that sets the seed.
pub const SEED_VAR: &str = "RGIREF_FUZZ_SEED";
/// The seed when none is given. Any number works; a fixed one makes `cargo test` repeatable.
pub const DEFAULT_SEED: u64 = 0x5EED_2026;

// ---------------------------------------------------------------------------------------------
// The random number generator
// ---------------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea and Flood, 2014; the seeder of Java's `SplittableRandom`).
///
/// The whole generator is a counter and a hash: add a constant to the state, then scramble the
/// state with [`mix`]. Why it is good enough here:
///
/// * its output passes the standard statistical test batteries (BigCrush), far more than a test
///   needs — we want "no pattern a parser would notice", not cryptography;
/// * every seed, including 0, is a good seed, so any number a person types works;
/// * it is a few lines with no `unsafe` and no dependency, so a reader can check it.
///
/// It is **not** for secrets: anyone who sees one output can compute all the others.
///
/// ```text
///   state += 0x9E3779B97F4A7C15        (2^64 / golden ratio: odd, so every state is visited)
///   return mix(state)
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

/// SplitMix64's output function: a 64-bit hash in which every input bit affects every output
/// bit. Also used on its own to turn (seed, test, case) into a seed.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator starting from `seed`. The same seed gives the same numbers, always.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A number in `0..n` (`n` must not be 0). Multiplying by `n` and keeping the top 64 bits
    /// (Lemire's method) is nearly uniform: the bias is at most n / 2^64, invisible in a test.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0) has no answer");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `range`, both ends included.
    pub fn range(&mut self, range: RangeInclusive<usize>) -> usize {
        let (low, high) = (*range.start(), *range.end());
        low + self.below(high - low + 1)
    }

    /// True once in `n` times, on average.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// A length for a run of bytes: usually 1, often a few, sometimes up to `max`. Small edits
    /// keep most of the input intact, which is what gets a mutated input past the first check.
    pub fn run_length(&mut self, max: usize) -> usize {
        let max = max.max(1);
        match self.below(8) {
            0..=3 => 1,
            4..=6 => self.range(1..=max.min(8)),
            _ => self.range(1..=max),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Settings and running cases
// ---------------------------------------------------------------------------------------------

/// What the environment asked for: [`CASES_VAR`] and [`SEED_VAR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `RGIREF_FUZZ_CASES`, if set.
    pub cases: Option<usize>,
    /// `RGIREF_FUZZ_SEED`, or [`DEFAULT_SEED`].
    pub seed: u64,
}

impl Settings {
    /// Reads the two variables. A value that is set but not a number stops the test with a
    /// message: silently running the default instead would fool the person who set it.
    pub fn from_env() -> Settings {
        let cases = std::env::var(CASES_VAR).ok().map(|text| {
            text.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or_else(|| panic!("{CASES_VAR}={text:?} is not a positive whole number"))
        });
        let seed = match std::env::var(SEED_VAR) {
            Ok(text) => parse_seed(&text)
                .unwrap_or_else(|| panic!("{SEED_VAR}={text:?} is not a number (decimal or 0x…)")),
            Err(_) => DEFAULT_SEED,
        };
        Settings { cases, seed }
    }
}

fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// One fuzz test's run: how many cases, which seed, and how to report a failing case.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The test binary (`module_path!()` in the test file), for the reproduce command.
    binary: String,
    /// The test function's name.
    test: String,
    /// The seed all of this run's inputs come from.
    pub seed: u64,
    /// How many cases to run.
    pub cases: usize,
    /// How many `RGIREF_FUZZ_CASES` one case of this test is worth (see [`Campaign::new`]).
    cost: usize,
}

impl Campaign {
    /// A campaign for test `test` in test binary `binary` (pass `module_path!()`).
    ///
    /// It runs `default_cases` cases, or `RGIREF_FUZZ_CASES / cost` if that is set (at least
    /// one): a test whose case costs ten in-memory cases (a socket round trip, say) says
    /// `cost = 10`, so one variable scales every test of a run in proportion.
    pub fn new(binary: &str, test: &str, default_cases: usize, cost: usize) -> Campaign {
        let settings = Settings::from_env();
        let cost = cost.max(1);
        let cases = settings.cases.map_or(default_cases, |n| (n / cost).max(1));
        Campaign {
            binary: binary.to_owned(),
            test: test.to_owned(),
            seed: settings.seed,
            cases,
            cost,
        }
    }

    /// The generator for case number `case`. It depends on the seed, the test's name and the
    /// case number only, so any one case can be made again without running the ones before it,
    /// and two tests with the same seed still get different inputs.
    ///
    /// Each number goes through [`mix`] before it is combined: seeds that differ by a little
    /// (case 7, case 8) must not give streams that overlap, which plain `seed + case` would.
    pub fn rng(&self, case: usize) -> Rng {
        let test = self.test.bytes().fold(0xCBF2_9CE4_8422_2325u64, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3) // FNV-1a, a tiny string hash
        });
        Rng::new(mix(mix(self.seed) ^ mix(test) ^ mix(case as u64 ^ 0xCA5E)))
    }

    /// Runs one case. `run` returns `Ok` if everything held, or `Err` saying what did not; a
    /// panic inside it (from the code under test, or an `assert!`) counts as a failure too.
    /// On failure this panics with everything needed to reproduce the case: `trail` should say
    /// which corpus entry and which mutations made `input`.
    pub fn check<T>(
        &self,
        case: usize,
        input: &[u8],
        trail: &[String],
        run: impl FnOnce() -> Result<T, String>,
    ) -> T {
        // A panic is caught so the report below can say how to reproduce it; the default panic
        // hook has already printed where it happened.
        let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(value)) => return value,
            Ok(Err(why)) => why,
            Err(payload) => panic_message(payload.as_ref()),
        };
        panic!("{}", self.report(case, input, trail, &why));
    }

    /// The failure report: why, the reproduce command, the recipe, and the input.
    fn report(&self, case: usize, input: &[u8], trail: &[String], why: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "fuzz case failed: {why}");
        let _ = writeln!(
            text,
            "  test {}, seed {}, case {case}",
            self.test, self.seed
        );
        let _ = writeln!(
            text,
            "  reproduce: {SEED_VAR}={} {CASES_VAR}={} cargo test --test {} {}",
            self.seed,
            (case + 1) * self.cost,
            self.binary,
            self.test
        );
        let _ = writeln!(text, "  made by: {}", trail.join(" → "));
        let _ = write!(
            text,
            "  input ({} bytes): {}",
            input.len(),
            rust_literal(input)
        );
        text
    }
}

/// `bytes` as a Rust expression that evaluates to exactly those bytes, to paste into a test:
/// `b"GET /\r\n"`, or, when the input holds a long repetition (a stretched line, a run of
/// empty lines), `[&b"GET /"[..], &[b'a'; 70000][..], &b"\r\n".repeat(900)[..]].concat()` —
/// so a 64 KiB input still prints as a line you can read.
pub fn rust_literal(bytes: &[u8]) -> String {
    let mut pieces = Vec::new();
    let mut text = Vec::new(); // bytes waiting to go out as one b"…" piece
    let mut i = 0;
    while i < bytes.len() {
        let Some((unit, times)) = repetition_at(&bytes[i..]) else {
            text.push(bytes[i]);
            i += 1;
            continue;
        };
        if !text.is_empty() {
            pieces.push(format!("&b\"{}\"[..]", escape(&text)));
            text.clear();
        }
        pieces.push(match unit {
            [b] => format!("&[{}; {times}][..]", byte_literal(*b)),
            _ => format!("&b\"{}\".repeat({times})[..]", escape(unit)),
        });
        i += unit.len() * times;
    }
    if pieces.is_empty() {
        return format!("b\"{}\"", escape(&text));
    }
    if !text.is_empty() {
        pieces.push(format!("&b\"{}\"[..]", escape(&text)));
    }
    format!("[{}].concat()", pieces.join(", "))
}

/// A unit of 1 to 4 bytes that `bytes` starts with and that repeats to fill at least 32 bytes,
/// with how many times it repeats.
fn repetition_at(bytes: &[u8]) -> Option<(&[u8], usize)> {
    const LONG: usize = 32;
    (1..=4).filter(|&len| len <= bytes.len()).find_map(|len| {
        let unit = &bytes[..len];
        let times = bytes
            .chunks_exact(len)
            .take_while(|chunk| *chunk == unit)
            .count();
        (times * len >= LONG).then_some((unit, times))
    })
}

/// Escapes bytes for the inside of a Rust byte string: printable ASCII as itself, the usual
/// `\r \n \t \0 \\ \"`, everything else `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\0' => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

fn byte_literal(b: u8) -> String {
    match b {
        b'\'' => "b'\\''".to_owned(),
        b'"' => "b'\"'".to_owned(),
        _ => format!("b'{}'", escape(&[b])),
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutators: they know nothing about any protocol
// ---------------------------------------------------------------------------------------------

/// Edits byte strings at random. Protocol knowledge comes in from the caller only, as data:
/// a `dictionary` of tokens that mean something to the parser (for HTTP: CR, LF, `:`, …) and
/// `donors`, valid inputs to splice pieces from.
///
/// Each mutation returns a short description for the failure report's "made by" line.
#[derive(Debug, Clone, Copy)]
pub struct Mutator<'a> {
    /// Tokens worth inserting: the bytes the parser treats specially.
    pub dictionary: &'a [&'a [u8]],
    /// Other valid inputs; [`Mutator::splice`] takes pieces from them.
    pub donors: &'a [Vec<u8>],
    /// Inputs are cut to this length after each mutation, to keep every case cheap.
    pub max_len: usize,
}

impl Mutator<'_> {
    /// Applies `rounds` random mutations; returns their descriptions.
    pub fn havoc(&self, rng: &mut Rng, data: &mut Vec<u8>, rounds: usize) -> Vec<String> {
        (0..rounds).map(|_| self.mutate(rng, data)).collect()
    }

    /// Applies one random mutation and returns what it did.
    pub fn mutate(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let (name, what) = match rng.below(11) {
            0 => ("flip_bit", self.flip_bit(rng, data)),
            1 => ("random_byte", self.random_byte(rng, data)),
            2 => ("drop_run", self.drop_run(rng, data)),
            3 => ("duplicate_run", self.duplicate_run(rng, data)),
            4 => ("insert_random", self.insert_random(rng, data)),
            // Twice as likely as the others: the dictionary's tokens are where the bugs are.
            5 | 6 => ("insert_token", self.insert_token(rng, data)),
            7 => ("overwrite_token", self.overwrite_token(rng, data)),
            8 => ("truncate", self.truncate(rng, data)),
            9 => ("repeat_run", self.repeat_run(rng, data)),
            _ => ("splice", self.splice(rng, data)),
        };
        data.truncate(self.max_len);
        format!("{name}({what})")
    }

    /// Flips one bit of one byte: ASCII becomes another ASCII byte or a byte ≥ 0x80.
    pub fn flip_bit(&self, rng: &mut Rng, data: &mut [u8]) -> String {
        let Some(at) = position(rng, data.len()) else {
            return "empty".to_owned();
        };
        let bit = rng.below(8);
        data[at] ^= 1 << bit;
        format!("@{at} bit {bit}")
    }

    /// Replaces one byte with a random one.
    pub fn random_byte(&self, rng: &mut Rng, data: &mut [u8]) -> String {
        let Some(at) = position(rng, data.len()) else {
            return "empty".to_owned();
        };
        data[at] = rng.byte();
        format!("@{at} = {:#04x}", data[at])
    }

    /// Removes a run of bytes.
    pub fn drop_run(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let Some(at) = position(rng, data.len()) else {
            return "empty".to_owned();
        };
        let len = rng.run_length(data.len() - at);
        data.drain(at..at + len);
        format!("@{at} ×{len}")
    }

    /// Copies a run of bytes and inserts the copy right after it (`ab` → `abab`).
    pub fn duplicate_run(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let Some(at) = position(rng, data.len()) else {
            return "empty".to_owned();
        };
        let len = rng.run_length(data.len() - at);
        let copy = data[at..at + len].to_vec();
        insert(data, at + len, &copy);
        format!("@{at} ×{len}")
    }

    /// Inserts a few random bytes.
    pub fn insert_random(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let at = rng.below(data.len() + 1);
        let len = rng.run_length(16);
        let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        insert(data, at, &bytes);
        format!("@{at} {:?}", escape(&bytes))
    }

    /// Inserts a token from the dictionary.
    pub fn insert_token(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        if self.dictionary.is_empty() {
            return self.insert_random(rng, data);
        }
        let token = *rng.pick(self.dictionary);
        let at = rng.below(data.len() + 1);
        insert(data, at, token);
        format!("@{at} {:?}", escape(token))
    }

    /// Writes a token from the dictionary over the bytes at a random place.
    pub fn overwrite_token(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        if self.dictionary.is_empty() {
            return self.random_byte(rng, data);
        }
        let token = *rng.pick(self.dictionary);
        let at = rng.below(data.len() + 1);
        let end = (at + token.len()).min(data.len());
        data.splice(at..end, token.iter().copied());
        format!("@{at} {:?}", escape(token))
    }

    /// Cuts the input short: what a client that disconnects (or a lost packet) produces.
    pub fn truncate(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let len = rng.below(data.len() + 1);
        data.truncate(len);
        format!("to {len}")
    }

    /// Stretches the input by repeating a short run in place (`ab` → `ababab…`): usually a few
    /// times, sometimes up to `max_len`, which is how a line grows past a parser's limit.
    pub fn repeat_run(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        let Some(at) = position(rng, data.len()) else {
            return "empty".to_owned();
        };
        let len = rng.run_length(data.len() - at).min(16);
        let room = self.max_len.saturating_sub(data.len()) / len;
        let times = match rng.one_in(8) {
            true => rng.range(0..=room),
            false => rng.range(1..=16).min(room),
        };
        let copies = data[at..at + len].repeat(times);
        insert(data, at + len, &copies);
        format!("@{at} ×{len} {times} more times")
    }

    /// Replaces a random stretch with a random stretch of a donor: new combinations of valid
    /// parts (a header of one request inside another).
    pub fn splice(&self, rng: &mut Rng, data: &mut Vec<u8>) -> String {
        if self.donors.is_empty() {
            return self.duplicate_run(rng, data);
        }
        let donor = rng.below(self.donors.len());
        let piece = &self.donors[donor];
        let from = rng.below(piece.len() + 1);
        let to = rng.range(from..=piece.len());
        let at = rng.below(data.len() + 1);
        let end = rng.range(at..=data.len());
        data.splice(at..end, piece[from..to].iter().copied());
        format!("{at}..{end} ← donor {donor} {from}..{to}")
    }
}

/// A random index into a slice of `len` bytes, or `None` if it is empty.
fn position(rng: &mut Rng, len: usize) -> Option<usize> {
    (len > 0).then(|| rng.below(len))
}

/// Inserts `bytes` at `at`.
fn insert(data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    data.splice(at..at, bytes.iter().copied());
}

/// The text of a panic: `panic!` with a literal gives a `&str`, with arguments a `String`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned());
    format!(
        "panicked: {}",
        text.unwrap_or_else(|| "(not a string)".to_owned())
    )
}
