//! The services as processes: the built binaries started with real flags, as
//! docker-compose and a PostgreSQL deployment run them, so a test can `kill -9` one.
//! The stacks built from them are in [`crate::replica_stack`] and
//! [`crate::whole_stack`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The issuer every replica of a [`crate::replica_stack::ReplicaStack`] signs and
/// expects.
pub const ISSUER: &str = "http://scim.replicas.test";

/// A built binary of the workspace (`cargo build --bins` first).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let p = dir.join(name);
    assert!(p.exists(), "build {name} first: {}", p.display());
    p
}

/// A free port on loopback (free now; a process binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process, killed (SIGKILL) when dropped; it can be stopped, continued and
/// started again with the same flags.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    /// What it is, for messages.
    pub name: String,
    binary: String,
    args: Vec<String>,
    logs: PathBuf,
}

impl Proc {
    /// Starts `binary` with `args`; its logs go to a file in `logs`.
    pub fn spawn(binary: &str, name: &str, args: &[String], logs: &std::path::Path) -> Proc {
        let mut proc = Proc {
            child: None,
            name: name.to_owned(),
            binary: binary.to_owned(),
            args: args.to_vec(),
            logs: logs.to_owned(),
        };
        proc.start();
        proc
    }

    fn start(&mut self) {
        // Appended to, so a restarted process's log follows its earlier life.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{}.log", self.name)))
            .expect("log file");
        let child = Command::new(bin(&self.binary))
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("SCIM_TEST_PROC_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the flags it first had (after [`Proc::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory now and at its peak (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let sent = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "SIG{signal} to {}", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process is killed all the same: SIGKILL needs no cooperation.
        self.kill();
    }
}
