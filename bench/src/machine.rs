//! What the numbers were measured on: CPU, memory, kernel, compiler, commit.

use std::process::Command;

/// A description of the machine and the build.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory, human readable.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Short commit id of the checkout, with `+changes` when the tree is dirty.
    pub commit: String,
    /// 1/5/15-minute load averages when the run started: other work on the machine
    /// shows here, and makes the numbers noisier.
    pub load: String,
}

/// The value of the first `key: value` line of a `/proc` file starting with `key`.
pub fn proc_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// `MemTotal` of `/proc/meminfo` in GiB.
pub fn mem_total(meminfo: &str) -> Option<String> {
    let kib: u64 = proc_field(meminfo, "MemTotal")?
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Describes this machine.
pub fn describe() -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let unknown = || "unknown".to_owned();
    let commit = run("git", &["rev-parse", "--short", "HEAD"]).map(|c| {
        let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        if dirty { format!("{c}+changes") } else { c }
    });
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: proc_field(&read("/proc/cpuinfo"), "model name").unwrap_or_else(unknown),
        memory: mem_total(&read("/proc/meminfo")).unwrap_or_else(unknown),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        rustc: run("rustc", &["--version"]).unwrap_or_else(unknown),
        commit: commit.unwrap_or_else(unknown),
        load: read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_and_memory_are_read_from_proc_text() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 3.00GHz\nflags\t: fpu\n";
        assert_eq!(
            proc_field(cpuinfo, "model name").as_deref(),
            Some("Example CPU @ 3.00GHz")
        );
        let meminfo = "MemTotal:       25165824 kB\nMemFree:        1 kB\n";
        assert_eq!(mem_total(meminfo).as_deref(), Some("24.0 GiB"));
        assert_eq!(mem_total("nothing"), None);
    }

    #[test]
    fn this_machine_is_described() {
        let m = describe();
        assert!(m.cpus > 0);
        assert!(!m.kernel.is_empty());
    }
}
