//! A service process the harness started: spawned with its log file, stopped gently
//! first, measured through `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::procfs::{Memory, memory_of};
use crate::stack::{Otlp, StackError, io};

/// How long a stopping service gets before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One running service process.
pub struct Service {
    /// Its name in reports.
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Its memory now.
    pub fn memory(&self) -> Option<Memory> {
        self.pid().and_then(memory_of)
    }

    /// The last lines of its log, for an error report.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Whether it has exited (and how), without waiting.
    pub fn exited(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Asks it to stop (SIGTERM), then kills it if it does not.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // tokio can only SIGKILL; SIGTERM lets the service flush its exporter and
            // close SQLite cleanly, and `kill(1)` avoids unsafe libc calls.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// The last 20 lines of the log at `path`.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts one service with its output going to `logs/<log_name>.log`.
pub(crate) fn spawn(
    name: &'static str,
    log_name: &str,
    binary: &Path,
    args: &[&str],
    logs: &Path,
    otlp: Option<&Otlp>,
) -> Result<Service, StackError> {
    let log = logs.join(format!("{log_name}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(format!("opening {}", log.display())))?;
    let err_file = file.try_clone().map_err(io("duplicating a log handle"))?;
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err_file))
        // Never leave a service behind if the harness dies.
        .kill_on_drop(true)
        // The services' own defaults, whatever the caller's shell has set.
        .env("RUST_LOG", "info");
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_SERVICE_NAME",
    ] {
        cmd.env_remove(var);
    }
    if let Some(otlp) = otlp {
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp.endpoint);
        if let Some(ratio) = otlp.ratio {
            cmd.env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
                .env("OTEL_TRACES_SAMPLER_ARG", ratio.to_string());
        }
    }
    let child = cmd
        .spawn()
        .map_err(io(format!("starting {}", binary.display())))?;
    Ok(Service { name, child, log })
}
