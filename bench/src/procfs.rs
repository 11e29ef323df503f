//! What the kernel says about a process: its memory and CPU time, from `/proc`.

use std::time::Duration;

/// Memory figures of one process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Peak resident set since the process started (`VmHWM`).
    pub peak_kib: u64,
    /// Current resident set (`VmRSS`).
    pub current_kib: u64,
}

/// Parses `VmHWM` and `VmRSS` out of the text of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some(Memory {
        peak_kib: field("VmHWM:")?,
        current_kib: field("VmRSS:")?,
    })
}

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, which is 100 on every
/// architecture the kernel exposes to user space this way.
const USER_HZ: u64 = 100;

/// User plus system CPU time out of the text of `/proc/<pid>/stat`, threads that have
/// already exited included.
pub fn parse_stat(text: &str) -> Option<Duration> {
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11
    // and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// User + system CPU time of every PostgreSQL server process on this machine (the
/// postmaster, its background workers and the backends of every connection): what the
/// database server spent, which counts towards a request's CPU on that backend.
pub fn postgres_cpu() -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres"
            && let Some(cpu) = cpu_of(pid)
        {
            total += cpu;
            found = true;
        }
    }
    found.then_some(total)
}

/// CPU time a running process has used so far.
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Memory of a running process, if it is still there.
pub fn memory_of(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&text)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn status_fields_are_parsed_in_kib() {
        let text =
            "Name:\tscim-gateway\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   18000 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                peak_kib: 20480,
                current_kib: 18000
            })
        );
    }

    #[test]
    fn status_without_memory_fields_is_none() {
        // Kernel threads and zombies have no VmHWM line.
        assert_eq!(parse_status("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A name with spaces and a parenthesis must not shift the fields.
        let stat =
            "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 1 1";
        assert_eq!(parse_stat(stat), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_cpu_time_grows() {
        let before = cpu_of(std::process::id()).expect("our own /proc entry");
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = cpu_of(std::process::id()).unwrap();
        assert!(after > before, "{before:?} -> {after:?}");
    }

    #[test]
    fn own_process_memory_is_readable() {
        let m = memory_of(std::process::id()).expect("our own /proc entry");
        assert!(m.peak_kib >= m.current_kib && m.current_kib > 0);
    }
}
