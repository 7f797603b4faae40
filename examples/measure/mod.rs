//! What the benchmarks measure with: CPU time from `/proc`, and the machine they ran on.
//!
//! Not an example of its own. `examples/bench.rs` (the development server against a bare
//! loop) and `examples/bench_gateways.rs` (rgiref behind nginx and lighttpd) both include it
//! with `#[path = "measure/mod.rs"] mod measure;`, so that the two report CPU time the same
//! way. Cargo builds `examples/*.rs` and `examples/*/main.rs`, so this directory is no example.
//!
//! Interface:
//! * [`times`] reads `/proc/<pid>/stat`: the CPU time a process has used itself
//!   ([`Times::own`]), and that of the children it has started and waited for
//!   ([`Times::reaped`]) — the only trace a CGI program leaves once it has exited.
//! * Read before and after the load, and subtract with [`CpuTime::since`].
//! * [`machine`] and [`load_average`] say where and in what weather the figures were taken.
//!
//! Linux only: it reads `/proc`.
// Each benchmark uses part of this; the rest is the other's, not dead.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::thread;

/// `/proc/<pid>/stat` counts CPU time in clock ticks. Linux reports them at 100 per second
/// (`USER_HZ`) whatever the kernel's internal tick rate; asking `sysconf(_SC_CLK_TCK)` would
/// need libc, so we use the constant.
pub const TICKS_PER_SECOND: u64 = 100;

/// CPU time in clock ticks (see [`TICKS_PER_SECOND`]), split as the kernel reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    /// Running the program's own code.
    pub user_ticks: u64,
    /// The kernel working for it: system calls, TCP.
    pub system_ticks: u64,
}

impl CpuTime {
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_ticks: self.user_ticks - earlier.user_ticks,
            system_ticks: self.system_ticks - earlier.system_ticks,
        }
    }

    pub fn add(&mut self, other: CpuTime) {
        self.user_ticks += other.user_ticks;
        self.system_ticks += other.system_ticks;
    }

    pub fn ticks(self) -> u64 {
        self.user_ticks + self.system_ticks
    }

    pub fn seconds(self) -> f64 {
        ticks_to_seconds(self.ticks())
    }
}

pub fn ticks_to_seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND as f64
}

/// What `/proc/<pid>/stat` says about a process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    /// Its own (all its threads): `utime` and `stime`.
    pub own: CpuTime,
    /// Its children's, counted when it reaps them (`waitpid`): `cutime` and `cstime`. A child
    /// still running, or exited and not yet reaped, is not in it.
    pub reaped: CpuTime,
}

/// The CPU time `pid` and its reaped children have used so far.
pub fn times(pid: u32) -> io::Result<Times> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Field 2 is the program's name in parentheses, which may itself hold spaces or ')'; the
    // numbers start after the last ')'. That makes field 3 (proc(5)'s numbering) index 0, so
    // utime (14), stime (15), cutime (16) and cstime (17) are at 11 to 14.
    let (_, numbers) = stat
        .rsplit_once(')')
        .ok_or_else(|| io::Error::other("unexpected /proc/<pid>/stat"))?;
    let fields: Vec<&str> = numbers.split_whitespace().collect();
    let field = |index: usize| -> io::Result<u64> {
        let text = fields.get(index).copied().unwrap_or("");
        text.parse()
            .map_err(|_| io::Error::other(format!("unexpected /proc/<pid>/stat: {stat}")))
    };
    Ok(Times {
        own: CpuTime {
            user_ticks: field(11)?,
            system_ticks: field(12)?,
        },
        reaped: CpuTime {
            user_ticks: field(13)?,
            system_ticks: field(14)?,
        },
    })
}

/// `AMD EPYC, 2 cores, Linux 6.18.0`: the CPU model from `/proc/cpuinfo`, the cores this
/// program may use, and the kernel.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']))
        .unwrap_or("unknown CPU");
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

/// The 1, 5 and 15 minute load averages: how busy the machine was besides the benchmark.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
