//! Starting a server process on ports the operating system picks.
//!
//! A port chosen ahead ("bind port 0, read it, close it, pass it on") can be
//! taken by any other socket before the server binds it, and then the server
//! exits at start. So tests start `hayate coordinator` and `hayate worker`
//! with `--port 0 --status-port 0` and read the addresses they print on
//! standard output (`coordinator listening at URL`, `status at URL`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Spawns `cmd` with its standard output piped and waits until it has
/// printed a line `"{label} at {url}"` for every label; returns the process
/// and the URLs in the order of `labels`. The process is killed when it
/// does not announce them all within `timeout`, or exits first.
pub fn spawn_announced(
    cmd: &mut Command,
    labels: &[&str],
    timeout: Duration,
) -> Result<(Child, Vec<String>), String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines, announced) = mpsc::channel();
    // Reads to the end, so the process never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    let mut urls: Vec<Option<String>> = vec![None; labels.len()];
    let deadline = Instant::now() + timeout;
    while urls.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match announced.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => format!("not within {timeout:?}"),
                    mpsc::RecvTimeoutError::Disconnected => format!("it ended ({status})"),
                };
                return Err(format!(
                    "{:?} did not announce {labels:?}: {why}",
                    cmd.get_program()
                ));
            }
        };
        for (label, url) in labels.iter().zip(urls.iter_mut()) {
            if let Some(address) = line
                .strip_prefix(label)
                .and_then(|r| r.strip_prefix(" at "))
            {
                *url = Some(address.trim().to_string());
            }
        }
    }
    Ok((child, urls.into_iter().flatten().collect()))
}
