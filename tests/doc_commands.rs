//! Every command in README.md and TUTORIAL.md is run, and does what the document says.
//!
//! Stage: none — it reads the documents and runs what they tell a reader to run, against the
//! `rgiref` binary and the examples.
//!
//! What counts as a command: each line of a ```` ```sh ```` block (its `# comment` removed),
//! and each code span whose first word — after any `NAME=value` — is `cargo`, `curl`, `env`,
//! `printf` or a path under `target/`. Every one is classified ([`plan`]); one this test does
//! not recognize fails [`every_command_in_the_documents_is_classified`], with a message saying
//! how to teach it here or mark it in the document, so no command goes untested silently:
//!
//! ```text
//!   cargo run [-- ARGS]                the rgiref binary: a server, or --help/--version
//!   cargo run --example NAME [-- ARGS] that example: a server (SERVERS) or a client (CLIENTS)
//!   curl ... http://127.0.0.1:PORT/... curl itself; with no URL, a mention of curl (`curl -I`)
//!   env -i ..., printf ... | ..., target/debug/...
//!                                      sh -c, with target/debug/rgiref (and
//!                                      target/debug/examples/NAME) the binaries Cargo built
//!   cargo build                        nothing to do: Cargo built what the test runs
//!   cargo test, fmt, clippy, doc       not run: the checks themselves (.ci/run runs them)
//! ```
//!
//! A fenced block of a web server's config (```` ```nginx ````, `apache`, `lighttpd`) must be
//! marked `<!-- interop: NAME -->`: `tests/interop.rs` runs those behind the real web servers.
//! A command that should not run here is marked in the document, right before it (inline) or
//! before its block: `<!-- commands: not run: REASON -->`.
//!
//! How the commands run — as a reader would, one section (heading) at a time, in order:
//! * A server command starts the server in the background, and it serves until its section
//!   ends (a later server on the same port replaces it). It must print its banner and still
//!   be running at the end.
//! * A client command runs to its end against the servers of its section, and must exit 0 and
//!   leave a line in its server's log (TUTORIAL §0: "every request writes a line there"). If no
//!   command of the section started a server on its port, the program the documents say listens
//!   there by default is started ([`SERVERS`]: 8000 is `cargo run`, 8002 the echo example, …).
//! * **Ports.** A fixed port in the documents (`cargo run`'s 8000, `127.0.0.1:9000`) may be in
//!   use on this machine, so every server is started on port 0 and its banner read for the
//!   port it got; in the rest of the section, `127.0.0.1:DOCPORT` in every command becomes
//!   that port, and in output it is turned back before comparing. `raw` with no `--to` gets
//!   `--to 127.0.0.1:8000`, its default, made explicit. `/run/rgiref/` becomes a temporary
//!   directory of the section's.
//! * **Shortened.** `examples/slow.rs` is started with `/slow` taking 1 s instead of 3 s: the
//!   documents show none of its output, and what they say ("answered only after /slow is
//!   done") holds for any delay. Nothing else is shortened: `raw --idle 30` ends when the
//!   server closes the idle connection, after 2 s.
//! * Output is compared where the document shows it: a ```` ```text ```` block after a
//!   ```` ```sh ```` block, in the same section with no other fenced block between, is the
//!   output of that block's last command, and each of its lines must appear in the output, in
//!   order; and [`EXPECTED`] lists the lines the prose quotes. Both sides are normalized first
//!   (`shell::Normalize`): ports back to the document's, `Date:` values and millisecond counts
//!   blanked.
//!
//! Never hanging: every process is a `ServerProcess`, killed and reaped when dropped; every wait
//! has `server_process::PATIENCE` as its safety net. The sections run in parallel, so the whole
//! test takes as long as its slowest section (TUTORIAL §2, about 5 s). Run it with
//! `-- --nocapture` to see how each command is classified.

#[path = "doc_commands/markdown.rs"]
mod markdown;
#[path = "doc_commands/run.rs"]
mod run;
mod server_process;
#[path = "doc_commands/shell.rs"]
mod shell;

use markdown::{Kind, Piece};

/// The documents whose commands are run.
const DOCUMENTS: [&str; 2] = ["README.md", "TUTORIAL.md"];

/// The examples that are servers: the port each listens on by default, and which of its
/// arguments is the port (the ones before it get the example's defaults when absent).
const SERVERS: [ServerExample; 6] = [
    ServerExample::new("rgiref", 8000, PortArgument::Flag("--port")),
    ServerExample::new("hello", 8001, PortArgument::At(0, &[])),
    ServerExample::new("echo", 8002, PortArgument::At(0, &[])),
    ServerExample::new("compose", 8003, PortArgument::At(0, &[])),
    ServerExample::new("static_files", 8004, PortArgument::At(1, &["."])),
    ServerExample::new("slow", 8005, PortArgument::At(0, &[])),
];

/// The examples that are clients or print something and exit: the port each talks to when
/// not told (`raw`'s `--to` default), or none.
const CLIENTS: [(&str, Option<u16>); 2] = [("raw", Some(8000)), ("formats", None)];

/// What the prose says a command shows, quoted from the document (a test checks the quote is
/// there, so that the document and this list change together).
const EXPECTED: &[(&str, &str, Expect)] = &[
    // README: "`cargo run -- --help` shows the flags (`--host`, `--port`, `--quiet`, ...)".
    ("README.md", "cargo run -- --help", Expect::Shows("--host")),
    ("README.md", "cargo run -- --help", Expect::Shows("--port")),
    ("README.md", "cargo run -- --help", Expect::Shows("--quiet")),
    ("README.md", "cargo run -- --help", Expect::Shows("--fastcgi")),
    ("README.md", "cargo run -- --help", Expect::Shows("--scgi")),
    // README: "try `curl -v -T Cargo.toml http://127.0.0.1:8002/`, and watch for `100 Continue`".
    (
        "README.md",
        "curl -v -T Cargo.toml http://127.0.0.1:8002/",
        Expect::Shows("100 Continue"),
    ),
    // README: "... and find `SCRIPT_NAME` and `PATH_INFO` on the page".
    (
        "README.md",
        "curl http://127.0.0.1:8003/demo/x/y",
        Expect::Shows("SCRIPT_NAME"),
    ),
    (
        "README.md",
        "curl http://127.0.0.1:8003/demo/x/y",
        Expect::Shows("PATH_INFO"),
    ),
    // README: "a `Status:` header and the page on standard output".
    (
        "README.md",
        "env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET QUERY_STRING=x=1 PATH_INFO=/hello target/debug/rgiref",
        Expect::Starts("Status:"),
    ),
    (
        "README.md",
        "printf 'hello' | env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST CONTENT_LENGTH=5 target/debug/rgiref",
        Expect::Starts("Status:"),
    ),
    // TUTORIAL §0: "The banner says *development server*".
    ("TUTORIAL.md", "cargo run", Expect::Shows("development server")),
    // TUTORIAL §2: the second curl is "sent meanwhile: answered only after /slow is done".
    (
        "TUTORIAL.md",
        "curl http://127.0.0.1:8005/",
        Expect::WaitsForThePrevious("answered only after /slow is done"),
    ),
    // TUTORIAL §2: "It prints `* the server closed the connection 2001 ms after ...`".
    (
        "TUTORIAL.md",
        "cargo run --example raw -- --to 127.0.0.1:8005 --idle 30",
        Expect::Shows(
            "* the server closed the connection 2001 ms after we connected, before we sent anything",
        ),
    ),
    // TUTORIAL §10: "The output starts `Status: 200 OK`".
    (
        "TUTORIAL.md",
        "env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/hello QUERY_STRING=x=1 target/debug/rgiref",
        Expect::Starts("Status: 200 OK"),
    ),
];

/// One thing a document says about a command's output.
#[derive(Debug)]
enum Expect {
    /// A line of the output (or of a server's banner) contains this.
    Shows(&'static str),
    /// The output's first line starts with this.
    Starts(&'static str),
    /// Started while the command before it still runs, this one ends only after that one: one
    /// thread, one request at a time. The text is the document's claim.
    WaitsForThePrevious(&'static str),
}

impl Expect {
    /// The words the document must contain.
    fn quote(&self) -> &'static str {
        match self {
            Expect::Shows(q) | Expect::Starts(q) | Expect::WaitsForThePrevious(q) => q,
        }
    }
}

/// A server the documents start, and how to give it a port.
struct ServerExample {
    /// `rgiref` for `cargo run`, else the example's name.
    name: &'static str,
    default_port: u16,
    port: PortArgument,
}

impl ServerExample {
    const fn new(name: &'static str, default_port: u16, port: PortArgument) -> ServerExample {
        ServerExample {
            name,
            default_port,
            port,
        }
    }
}

/// Where a server's port goes on its command line.
enum PortArgument {
    /// After this flag: `--port 8011`.
    Flag(&'static str),
    /// As the positional argument at this index, after these defaults for the ones before it.
    At(usize, &'static [&'static str]),
}

/// A command found in a document.
#[derive(Debug)]
struct Found {
    doc: &'static str,
    line: usize,
    section: String,
    /// The command as written, without its `# comment`.
    text: String,
    /// What the test does with it, or why it cannot.
    plan: Result<Plan, String>,
    /// The lines of the ```text block that shows its output.
    shown: Option<Vec<String>>,
}

impl Found {
    /// `TUTORIAL.md:30 (0. Run it)`, for messages.
    fn place(&self) -> String {
        format!("{}:{} ({})", self.doc, self.line, self.section)
    }

    /// What [`EXPECTED`] says about this command.
    fn expected(&self) -> impl Iterator<Item = &'static Expect> + '_ {
        EXPECTED
            .iter()
            .filter(|(doc, text, _)| *doc == self.doc && *text == self.text)
            .map(|(_, _, expect)| expect)
    }
}

/// What the test does with a command.
#[derive(Debug)]
enum Plan {
    /// Start it as a server, for the rest of its section.
    Serve(Program),
    /// Run it to its end.
    Run(Program),
    /// `cargo build`: Cargo has built what the test runs.
    Built,
    /// A tool or flag named in the prose (`curl -I`), not a command.
    Mention,
    /// A web server's config, run behind that web server by `tests/interop.rs`.
    FrontEnd(String),
    /// Deliberately not run, and why.
    NotRun(String),
}

/// A program to start, as the document has it (ports are the document's; the runner maps
/// them), except that a server's own port is already 0.
#[derive(Debug, Clone)]
struct Program {
    exec: Exec,
    args: Vec<String>,
    /// Where a server listens, by the document's port.
    listens: Listen,
    /// The ports of 127.0.0.1 it connects to, as the document writes them.
    talks_to: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum Exec {
    /// The `rgiref` binary.
    Rgiref,
    /// `examples/NAME.rs`.
    Example(&'static str),
    /// curl, with `args`.
    Curl,
    /// `sh -c` with this text (binary paths substituted when run).
    Shell(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Listen {
    Nowhere,
    Port(u16),
    UnixSocket,
}

/// How to mark a command, for every message about one that cannot be run.
const HOW_TO_MARK: &str =
    "teach tests/doc_commands.rs its shape (`plan`), or mark it in the document right \
     before it (or before its ```sh block): <!-- commands: not run: REASON -->";

// ---------------------------------------------------------------------------------------------
// Finding the commands.

fn read(doc: &str) -> String {
    std::fs::read_to_string(doc).unwrap_or_else(|e| panic!("read {doc}: {e}"))
}

/// Every command (and web server snippet) in `doc`, classified, in document order.
fn commands(doc: &'static str) -> Vec<Found> {
    let text = read(doc);
    let mut found: Vec<Found> = Vec::new();
    let mut not_run: Option<(usize, String)> = None; // a marker waiting for its command
    let mut interop: Option<String> = None;
    let mut last_block_command: Option<usize> = None; // for a ```text output block
    for Piece {
        line,
        section,
        kind,
    } in markdown::pieces(&text)
    {
        let mut add = |text: String, plan: Result<Plan, String>| {
            found.push(Found {
                doc,
                line,
                section: section.clone(),
                text,
                plan,
                shown: None,
            });
        };
        match kind {
            Kind::Comment(comment) => {
                if let Some(reason) = comment.strip_prefix("commands: not run:") {
                    not_run = Some((line, reason.trim().to_owned()));
                } else if comment.starts_with("commands:") {
                    let why = format!("unknown marker <!-- {comment} -->: the one marker is <!-- commands: not run: REASON -->");
                    add(format!("<!-- {comment} -->"), Err(why));
                } else if let Some(name) = comment.strip_prefix("interop:") {
                    interop = Some(name.trim().to_owned());
                }
            }
            Kind::Heading(_) => {
                if let Some((at, reason)) = not_run.take() {
                    let why =
                        format!("the marker on line {at} is followed by no command in its section");
                    add(format!("<!-- commands: not run: {reason} -->"), Err(why));
                }
                last_block_command = None;
            }
            Kind::Span(span) if is_command(&span) => {
                let plan = match not_run.take() {
                    Some((_, reason)) => Ok(Plan::NotRun(reason)),
                    None => plan(&span),
                };
                add(span, plan);
            }
            Kind::Span(_) => {}
            Kind::Block { lang, lines } if matches!(lang.as_str(), "sh" | "bash" | "shell") => {
                let reason = not_run.take().map(|(_, reason)| reason);
                for (number, command) in block_commands(&lines) {
                    let plan = match &reason {
                        Some(reason) => Ok(Plan::NotRun(reason.clone())),
                        None => plan(&command),
                    };
                    found.push(Found {
                        doc,
                        line: number,
                        section: section.clone(),
                        text: command,
                        plan,
                        shown: None,
                    });
                }
                last_block_command = Some(found.len() - 1);
                interop = None;
            }
            Kind::Block { lang, lines } => {
                let snippet = interop.take();
                let output_of = last_block_command.take();
                if let Some((_, reason)) = not_run.take() {
                    add(format!("```{lang} block"), Ok(Plan::NotRun(reason)));
                } else if let Some(name) = snippet {
                    add(format!("```{lang} block"), Ok(Plan::FrontEnd(name)));
                } else if matches!(lang.as_str(), "apache" | "nginx" | "lighttpd") {
                    let why = format!(
                        "a ```{lang} block that no test runs: mark it <!-- interop: NAME --> and \
                         run it in tests/interop.rs, or <!-- commands: not run: REASON -->"
                    );
                    add(format!("```{lang} block"), Err(why));
                } else if let (Some(i), "text") = (output_of, lang.as_str()) {
                    found[i].shown = Some(lines.into_iter().map(|(_, l)| l).collect());
                }
            }
        }
    }
    if let Some((at, reason)) = not_run {
        found.push(Found {
            doc,
            line: at,
            section: String::new(),
            text: format!("<!-- commands: not run: {reason} -->"),
            plan: Err("the marker is followed by no command".to_owned()),
            shown: None,
        });
    }
    found
}

/// The commands of a ```sh block, with their line numbers: each line without its `# comment`,
/// a line ending in `\` joined to the next, empty lines left out.
fn block_commands(lines: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut commands: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (number, line) in lines {
        let command = match shell::split(line) {
            Ok(words) => line[..words.comment.unwrap_or(line.len())].trim(),
            Err(_) => line.trim(), // plan() says what is wrong with it
        };
        match commands.last_mut() {
            Some((_, previous)) if continued => {
                previous.pop(); // the backslash
                previous.push_str(command);
            }
            _ if command.is_empty() => {}
            _ => commands.push((*number, command.to_owned())),
        }
        continued = command.ends_with('\\');
    }
    commands
}

/// True if a code span is a command: its first word, after any `NAME=value`, is one a reader
/// would type to run something.
fn is_command(span: &str) -> bool {
    let Ok(shell::Words { words, .. }) = shell::split(span) else {
        return false;
    };
    let first = words.iter().find(|w| !shell::is_assignment(w));
    first.is_some_and(|w| {
        matches!(w.as_str(), "cargo" | "curl" | "env" | "printf") || w.starts_with("target/")
    })
}

// ---------------------------------------------------------------------------------------------
// Classifying them.

/// What the test does with `command`, or why it cannot.
fn plan(command: &str) -> Result<Plan, String> {
    if command.contains('…') {
        return Err(format!("the … is for the reader to fill in: {HOW_TO_MARK}"));
    }
    let words = shell::split(command)?.words;
    let first = words.iter().position(|w| !shell::is_assignment(w));
    let (assignments, words) = words.split_at(first.unwrap_or(words.len()));
    match words.first().map(String::as_str) {
        Some("cargo") => plan_cargo(&words[1..], !assignments.is_empty()),
        Some("curl") => plan_curl(&words[1..]),
        Some("env")
            if words[1..]
                .iter()
                .all(|w| w.starts_with('-') || shell::is_assignment(w)) =>
        {
            Ok(Plan::Mention)
        }
        Some("env" | "printf") => Ok(shell_command(command)),
        Some(path) if path.starts_with("target/") => Ok(shell_command(command)),
        _ => Err(format!("no rule for this command: {HOW_TO_MARK}")),
    }
}

fn plan_cargo(words: &[String], assignments: bool) -> Result<Plan, String> {
    match words.first().map(String::as_str) {
        Some("build") => Ok(Plan::Built),
        Some("test" | "fmt" | "clippy" | "doc") => Ok(Plan::NotRun(
            "one of the checks themselves: .ci/run runs it, not the suite".to_owned(),
        )),
        Some("run") if assignments => Err(format!(
            "variables before `cargo run` are not passed on here: {HOW_TO_MARK}"
        )),
        Some("run") => plan_cargo_run(&words[1..]),
        _ => Err(format!("no rule for this cargo command: {HOW_TO_MARK}")),
    }
}

/// `cargo run [--release] [--example NAME] [-- ARGS]`.
fn plan_cargo_run(words: &[String]) -> Result<Plan, String> {
    let (cargo_args, args) = match words.iter().position(|w| w == "--") {
        Some(at) => (&words[..at], words[at + 1..].to_vec()),
        None => (words, Vec::new()),
    };
    let mut example = None;
    let mut rest = cargo_args.iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--example" => example = rest.next(),
            "--release" | "--quiet" | "-q" => {}
            other => return Err(format!("no rule for cargo's {other:?}: {HOW_TO_MARK}")),
        }
    }
    let name = example.map_or("rgiref", String::as_str);
    if name == "rgiref"
        && args
            .iter()
            .any(|a| matches!(a.as_str(), "-h" | "--help" | "-V" | "--version"))
    {
        return Ok(Plan::Run(program(Exec::Rgiref, args)));
    }
    if let Some(server) = SERVERS.iter().find(|s| s.name == name) {
        return serve(server, args).map(Plan::Serve);
    }
    match CLIENTS.iter().find(|(client, _)| *client == name) {
        Some((client, default)) => Ok(Plan::Run(client_example(client, *default, args))),
        None => Err(format!(
            "examples/{name}.rs is in neither SERVERS nor CLIENTS of tests/doc_commands.rs: \
             add it to the one it is (or {HOW_TO_MARK})"
        )),
    }
}

fn program(exec: Exec, args: Vec<String>) -> Program {
    let talks_to = args.iter().flat_map(|a| shell::loopback_ports(a)).collect();
    Program {
        exec,
        args,
        listens: Listen::Nowhere,
        talks_to,
    }
}

/// A client example; `--to 127.0.0.1:PORT` made explicit if it has a default target.
fn client_example(name: &'static str, default: Option<u16>, mut args: Vec<String>) -> Program {
    if let (Some(port), false) = (default, args.iter().any(|a| a == "--to")) {
        args.splice(0..0, ["--to".to_owned(), format!("127.0.0.1:{port}")]);
    }
    program(Exec::Example(name), args)
}

/// A server's program, started on port 0 (or its Unix socket in the section's directory).
fn serve(server: &ServerExample, mut args: Vec<String>) -> Result<Program, String> {
    let exec = match server.name {
        "rgiref" => Exec::Rgiref,
        name => Exec::Example(name),
    };
    let gateway = args
        .iter()
        .position(|a| a == "--fastcgi" || a == "--scgi")
        .map(|at| at + 1);
    let listens = match (gateway, &server.port) {
        (Some(at), _) => {
            let address = args.get(at).ok_or("--fastcgi and --scgi need an address")?;
            if address.contains('/') {
                Listen::UnixSocket
            } else {
                let port = *shell::loopback_ports(address).first().ok_or_else(|| {
                    format!("{address:?}: only 127.0.0.1:PORT or a socket path is run here")
                })?;
                args[at] = "127.0.0.1:0".to_owned();
                Listen::Port(port)
            }
        }
        (None, PortArgument::Flag(flag)) => match args.iter().position(|a| a == flag) {
            Some(at) => {
                let port = parse_port(args.get(at + 1))?;
                args[at + 1] = "0".to_owned();
                Listen::Port(port)
            }
            None => {
                args.extend([flag.to_string(), "0".to_owned()]);
                Listen::Port(server.default_port)
            }
        },
        (None, PortArgument::At(at, defaults)) => {
            while args.len() < *at {
                args.push(defaults[args.len()].to_owned());
            }
            let port = match args.get(*at) {
                Some(word) => parse_port(Some(word))?,
                None => server.default_port,
            };
            match args.get_mut(*at) {
                Some(word) => *word = "0".to_owned(),
                None => args.push("0".to_owned()),
            }
            Listen::Port(port)
        }
    };
    if server.name == "slow" {
        // The documents show none of /slow's output; 1 s instead of 3 keeps the test quick.
        args.truncate(1);
        args.push("1".to_owned());
    }
    if args.iter().any(|a| a == "--host") {
        return Err(format!("--host: only 127.0.0.1 is run here: {HOW_TO_MARK}"));
    }
    Ok(Program {
        exec,
        args,
        listens,
        talks_to: Vec::new(),
    })
}

fn parse_port(word: Option<&String>) -> Result<u16, String> {
    word.and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("{word:?} is not a port"))
}

fn plan_curl(args: &[String]) -> Result<Plan, String> {
    let urls: Vec<&String> = args.iter().filter(|a| a.contains("://")).collect();
    if urls.is_empty() {
        return Ok(Plan::Mention);
    }
    let local = urls.iter().all(|u| !shell::loopback_ports(u).is_empty());
    if !local {
        return Err(format!(
            "curl is run here only against http://127.0.0.1:PORT/: {HOW_TO_MARK}"
        ));
    }
    Ok(Plan::Run(program(Exec::Curl, args.to_vec())))
}

fn shell_command(command: &str) -> Plan {
    let mut program = program(Exec::Shell(command.to_owned()), Vec::new());
    program.talks_to = shell::loopback_ports(command);
    Plan::Run(program)
}

/// One line saying what the test does with `found`.
fn describe(found: &Found) -> String {
    let checks = || {
        let mut checks: Vec<String> = Vec::new();
        if let Some(shown) = &found.shown {
            checks.push(format!("the {} lines shown after it", shown.len()));
        }
        checks.extend(found.expected().map(|e| format!("{e:?}")));
        match checks.is_empty() {
            true => String::new(),
            false => format!("; checked: {}", checks.join(", ")),
        }
    };
    match &found.plan {
        Ok(Plan::Serve(p)) => match p.listens {
            Listen::Port(port) => format!("server, port {port} → a free one{}", checks()),
            _ => format!("server, on a socket in a temporary directory{}", checks()),
        },
        Ok(Plan::Run(p)) if p.talks_to.is_empty() => format!("run, exit 0{}", checks()),
        Ok(Plan::Run(p)) => format!(
            "client of port {:?}: exit 0, a line in the server's log{}",
            p.talks_to,
            checks()
        ),
        Ok(Plan::Built) => "nothing to do: Cargo built it".to_owned(),
        Ok(Plan::Mention) => "a mention, not a command".to_owned(),
        Ok(Plan::FrontEnd(name)) => format!("needs a web server: tests/interop.rs runs {name}"),
        Ok(Plan::NotRun(reason)) => format!("not run: {reason}"),
        Err(why) => format!("UNRECOGNIZED: {why}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_command_in_the_documents_is_classified() {
    let mut problems = Vec::new();
    for doc in DOCUMENTS {
        for found in commands(doc) {
            let text = match found.text.starts_with("```") {
                true => found.text.clone(),
                false => format!("`{}`", found.text),
            };
            println!("{}  {text}\n    → {}", found.place(), describe(&found));
            if let Err(why) = &found.plan {
                problems.push(format!("{}: `{}`: {why}", found.place(), found.text));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_expectation_quotes_its_document_and_names_a_command_that_runs() {
    for (doc, command, expect) in EXPECTED {
        let found = commands(doc);
        let runs = found
            .iter()
            .any(|f| f.text == *command && matches!(f.plan, Ok(Plan::Run(_) | Plan::Serve(_))));
        assert!(
            runs,
            "EXPECTED names `{command}`, which {doc} does not have as a command that runs"
        );
        let collapsed = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            collapsed(&read(doc)).contains(&collapsed(expect.quote())),
            "EXPECTED quotes {:?} for `{command}`, but {doc} does not say it",
            expect.quote()
        );
    }
}

#[test]
fn the_readme_commands_do_what_it_says() {
    run::document("README.md", commands("README.md"));
}

#[test]
fn the_tutorial_commands_do_what_it_says() {
    run::document("TUTORIAL.md", commands("TUTORIAL.md"));
}
