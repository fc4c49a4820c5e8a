//! The server's own accounting, read from /proc.

use std::io;
use std::sync::OnceLock;

/// CPU time (user + system, every thread) the process has used, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12.
    let field = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))
    };
    let ticks = field(11)? + field(12)?;
    Ok(ticks as f64 / clock_ticks() as f64)
}

/// CPU time of several processes together (see [`cpu_seconds`]).
pub(crate) fn cpu_seconds_of(pids: &[u32]) -> io::Result<f64> {
    pids.iter().map(|&pid| cpu_seconds(pid)).sum()
}

/// Context switches of several processes together (see [`context_switches`]).
pub(crate) fn context_switches_of(pids: &[u32]) -> io::Result<u64> {
    pids.iter().map(|&pid| context_switches(pid)).sum()
}

/// The processes whose parent is `pid` (nginx's workers), from every `/proc/<pid>/stat`.
pub(crate) fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parent_of(&stat))
                == Some(pid)
        })
        .collect();
    out.sort_unstable();
    out
}

/// The parent pid in a `/proc/<pid>/stat` line (field 4, after the parenthesised name).
pub(crate) fn parent_of(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resident set size now and its peak (`VmRSS`, `VmHWM`), in KiB.
pub(crate) fn memory_kib(pid: u32) -> io::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let value = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok((value("VmRSS:"), value("VmHWM:")))
}

/// Context switches of every thread of the process so far (voluntary + involuntary).
pub(crate) fn context_switches(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(status) = std::fs::read_to_string(task?.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        total += status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches:")
                    || l.starts_with("nonvoluntary_ctxt_switches:")
            })
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// One CPU's line of `/proc/stat`: its time counters so far, in ticks (user, nice, system,
/// idle, iowait, irq, softirq, steal, ...).
fn core_counters(core: &str) -> io::Result<Vec<u64>> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let label = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label.as_str()))
        .ok_or_else(|| io::Error::other(format!("no {label} in /proc/stat")))?;
    Ok(line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect())
}

/// Busy and total time of one CPU so far (`/proc/stat`, in ticks): busy is everything but
/// idle and iowait.
pub(crate) fn core_ticks(core: &str) -> io::Result<(u64, u64)> {
    let values = core_counters(core)?;
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Time one CPU has spent servicing interrupts so far (`/proc/stat` irq + softirq, in ticks):
/// on loopback, most of the network stack's receive work, which no process is charged for.
pub(crate) fn core_irq_ticks(core: &str) -> io::Result<u64> {
    let values = core_counters(core)?;
    Ok(values.get(5).copied().unwrap_or(0) + values.get(6).copied().unwrap_or(0))
}

/// How busy all CPUs together were over `period` (0 to 1), from `/proc/stat`.
pub(crate) fn cpu_busy_over(period: std::time::Duration) -> f64 {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?;
        let values: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3)? + values.get(4)?;
        Some((total - idle, total))
    };
    let Some(before) = sample() else {
        return f64::NAN;
    };
    std::thread::sleep(period);
    let Some(after) = sample() else {
        return f64::NAN;
    };
    (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(f64::NAN));
    [
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
    ]
}

/// `sysconf(_SC_CLK_TCK)`, asked of getconf once (100 on every Linux this runs on).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}
