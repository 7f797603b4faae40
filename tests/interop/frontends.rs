//! Starting lighttpd, nginx and Apache in the foreground, each from a generated config in a
//! temporary directory, listening on free loopback ports.
//!
//! A config is a wrapper from this directory (`lighttpd.conf`, `nginx.conf`, `apache.conf`:
//! the least each server needs to run as a child of the test, as root, with every file it
//! writes in the temporary directory) with the README's snippets pasted in where the wrapper
//! says `{{SNIPPETS}}`. Everything a reader would copy is in the snippets; nothing the wrapper
//! adds is needed to make them work, except where its comments say so.
//!
//! How each runs as the test's child, and why:
//! * lighttpd: `-D` (do not detach). SIGTERM makes it stop the FastCGI processes it started
//!   (`bin-path`), which SIGKILL would leave behind.
//! * nginx: `daemon off;` with `master_process on` — as deployed, a master and one worker —
//!   and `user root;`, since the test runs as root and nginx would otherwise run its worker as
//!   `nobody`, who cannot write the temporary directory. SIGTERM stops master and worker.
//! * Apache: `-X` (one process, in the foreground) with the MPM the test names (prefork for
//!   mod_cgi, event for mod_cgid), loading only the modules named from
//!   `/usr/lib/apache2/modules`. Apache refuses to run as root, so it runs
//!   as `www-data` after binding; the binaries under `target/` must be readable by that user
//!   (they are, with the usual umask).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{
    fill, free_port, loopback, require, Daemon, TempDir, WebServer, APACHE_MODULES,
};

/// A web server running for one test.
pub struct FrontEnd {
    pub server: WebServer,
    pub daemon: Daemon,
    /// The ports it listens on (nginx: one per `server` block the snippets hold).
    pub ports: Vec<u16>,
    /// Its error log.
    pub error_log: PathBuf,
}

impl FrontEnd {
    /// Where the first port is.
    pub fn addr(&self) -> SocketAddr {
        loopback(self.ports[0])
    }

    /// The error log so far.
    pub fn error_log_text(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

/// How many times a web server is started with fresh ports when one was taken meanwhile.
const ATTEMPTS: usize = 4;

/// What goes into a wrapper: the README's snippets, and for nginx what goes in the http block.
#[derive(Default)]
pub struct Snippets {
    /// lighttpd and Apache: the config itself; nginx: what goes inside the `server` block.
    pub main: String,
    /// nginx only: what goes in the `http` block (a conf.d file: `upstream`, `server`).
    pub http: String,
}

impl From<String> for Snippets {
    fn from(main: String) -> Snippets {
        Snippets {
            main,
            http: String::new(),
        }
    }
}

/// Starts `server` with `port_count` free ports and the config `snippets(ports)` gives, pasted
/// into its wrapper (the first port is the wrapper's own). `None` if the server is not
/// installed (the skip is already said).
pub fn start(
    server: WebServer,
    dir: &TempDir,
    port_count: usize,
    extra: &Extra,
    snippets: impl Fn(&[u16]) -> Snippets,
) -> Option<FrontEnd> {
    let binary = require(server)?;
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        let ports: Vec<u16> = (0..port_count).map(|_| free_port()).collect();
        let (command, error_log) =
            configure(server, &binary, dir, &ports, extra, &snippets(&ports));
        let mut daemon = Daemon::spawn_quiet(server.name(), command, dir);
        daemon.logs.push(error_log.clone());
        let mut ready = Ok(());
        for &port in &ports {
            ready = ready.and_then(|()| daemon.wait_for_port(loopback(port)));
        }
        match ready {
            Ok(()) => {
                return Some(FrontEnd {
                    server,
                    daemon,
                    ports,
                    error_log,
                })
            }
            Err(why) if why.contains("in use") => last_error = why,
            Err(why) => panic!("{} did not start: {why}", server.name()),
        }
    }
    panic!(
        "{} did not start in {ATTEMPTS} tries: {last_error}",
        server.name()
    )
}

/// What a test adds to a wrapper besides snippets.
#[derive(Default)]
pub struct Extra {
    /// Apache: the modules to load (`cgi`, `proxy`, `proxy_fcgi`, …), besides the MPM and
    /// `authz_core`.
    pub apache_modules: Vec<&'static str>,
    /// Apache: the MPM (`prefork`, which mod_cgi needs, or `event`, Debian's default);
    /// `prefork` when empty.
    pub apache_mpm: &'static str,
    /// nginx: directives for the wrapper's `server` block, which its locations inherit.
    pub nginx_server: &'static str,
}

/// Writes the config and returns the command that runs `server` with it, and its error log.
fn configure(
    server: WebServer,
    binary: &Path,
    dir: &TempDir,
    ports: &[u16],
    extra: &Extra,
    snippets: &Snippets,
) -> (Command, PathBuf) {
    let dir_text = dir.path.display().to_string();
    let port = ports[0].to_string();
    let _ = std::fs::create_dir_all(dir.join("htdocs"));
    let mut command = Command::new(binary);
    match server {
        WebServer::Lighttpd => {
            let _ = std::fs::create_dir_all(dir.join("uploads"));
            let config = fill(
                include_str!("lighttpd.conf"),
                &[
                    ("DIR", &dir_text),
                    ("PORT", &port),
                    ("SNIPPETS", &snippets.main),
                ],
            );
            let path = dir.write("lighttpd.conf", &config);
            command.arg("-D").arg("-f").arg(path);
            (command, dir.join("lighttpd-error.log"))
        }
        WebServer::Nginx => {
            // `include fastcgi_params;` is relative to the config's directory: copy the stock
            // files there, as they are in /etc/nginx.
            for params in ["fastcgi_params", "scgi_params"] {
                let stock = Path::new("/etc/nginx").join(params);
                if let Ok(text) = std::fs::read_to_string(&stock) {
                    dir.write(params, &text);
                }
            }
            let config = fill(
                include_str!("nginx.conf"),
                &[
                    ("DIR", &dir_text),
                    ("PORT", &port),
                    ("SERVER_EXTRA", extra.nginx_server),
                    ("SNIPPETS", &snippets.main),
                    ("HTTP_SNIPPETS", &snippets.http),
                ],
            );
            let path = dir.write("nginx.conf", &config);
            let error_log = dir.join("nginx-error.log");
            command
                .arg("-p")
                .arg(&dir.path)
                .arg("-c")
                .arg(path)
                .arg("-e")
                .arg(&error_log);
            (command, error_log)
        }
        WebServer::Apache => {
            let modules: String = extra
                .apache_modules
                .iter()
                .map(|m| format!("LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n"))
                .collect();
            let config = fill(
                include_str!("apache.conf"),
                &[
                    ("DIR", &dir_text),
                    ("PORT", &port),
                    ("MODULES_DIR", APACHE_MODULES),
                    (
                        "MPM",
                        if extra.apache_mpm.is_empty() {
                            "prefork"
                        } else {
                            extra.apache_mpm
                        },
                    ),
                    ("LOAD_MODULES", &modules),
                    ("SNIPPETS", &snippets.main),
                ],
            );
            let path = dir.write("apache.conf", &config);
            command.arg("-X").arg("-f").arg(path);
            (command, dir.join("apache-error.log"))
        }
    }
}
