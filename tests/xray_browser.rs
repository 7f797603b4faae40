//! `examples/xray.rs` in a real browser: headless Chromium fetches the page, and the DOM it
//! built must hold the raw head of Chromium's own request.
//!
//! Stage: all of them, from a real client's side — the only test here whose client is a
//! browser, with a browser's headers (its `User-Agent`, its `Sec-Fetch-*`), which no test
//! written by hand would think to send.
//!
//! Chromium is a test tool, not a dependency: `.ci/run` installs it (Debian's `chromium`).
//! Without it this test says it was skipped and passes, unless `CI=true`, where a missing
//! browser is a broken machine and fails.

mod server_process;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use server_process::{example_binary, ServerProcess};

/// The longest Chromium may take to load the page and print its DOM. A safety net: it takes
/// about a second, and two when it opens a spare connection first (the server answers one
/// connection at a time, and waits `Timeouts::first_byte` on a silent one).
const BROWSER_PATIENCE: Duration = Duration::from_secs(60);

/// Chromium's binary: Debian's `/usr/bin/chromium`, or one of its names on the `PATH`.
fn chromium() -> Option<PathBuf> {
    let debian = Path::new("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `extra` arguments, in a profile of its own that is
/// removed afterwards, and returns its standard output.
fn run_chromium(chromium: &Path, url: &str, extra: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!("rgiref-xray-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile); // a leftover from a killed run
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start chromium");
    let stdout = read_on_a_thread(child.stdout.take().expect("piped stdout"));
    let stderr = read_on_a_thread(child.stderr.take().expect("piped stderr"));
    let finished = wait_or_kill(&mut child, BROWSER_PATIENCE);
    let (stdout, stderr) = (join(stdout), join(stderr));
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        finished,
        "chromium did not finish within {BROWSER_PATIENCE:?}; its stderr:\n{stderr}"
    );
    stdout
}

fn read_on_a_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(reader: thread::JoinHandle<String>) -> String {
    reader.join().unwrap_or_default()
}

/// Waits for `child` to exit; kills it if it takes longer than `patience`. True if it exited.
fn wait_or_kill(child: &mut Child, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn chromium_finds_its_own_request_head_on_the_page() {
    let Some(chromium) = chromium() else {
        let ci = std::env::var("CI").is_ok_and(|value| value == "true");
        assert!(
            !ci,
            "chromium not found, and CI=true: .ci/run installs it (apt-get install -y chromium)"
        );
        // Past libtest's capture, which hides a passing test's output: this must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "xray_browser: skipped: chromium not found (install chromium; .ci/run does)"
        );
        return;
    };
    let mut command = Command::new(example_binary("xray"));
    command.arg("0");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    let url = format!("{}xray-test?x=1", server.url);
    let dom = run_chromium(&chromium, &url, &["--dump-dom"]);

    // The DOM is what Chromium built from the page, serialized again: the page's escapes of
    // what Chromium sent come back as the text they stand for.
    let raw_head = dom
        .split("<h2>1. The request head, as received</h2>")
        .nth(1)
        .and_then(|rest| rest.split("<h2>").next())
        .unwrap_or_else(|| panic!("no raw head section in the DOM:\n{dom}"));
    assert!(
        raw_head.contains("<td>GET /xray-test?x=1 HTTP/1.1<b>\\r</b><b>\\n</b></td>"),
        "{raw_head}"
    );
    let user_agent = raw_head
        .lines()
        .find(|line| line.contains("<td>User-Agent: "))
        .unwrap_or_else(|| panic!("no User-Agent line in the raw head:\n{raw_head}"));
    assert!(user_agent.contains("HeadlessChrome/"), "{user_agent}");
    assert!(
        dom.contains("<title>x-ray: GET /xray-test?x=1</title>"),
        "{dom}"
    );
    // The page says what became of the header it just showed.
    assert!(dom.contains("<td>HTTP_USER_AGENT</td>"), "{dom}");
    let log = server.stderr_text();
    assert!(!log.contains("validate:"), "{log}");
}
