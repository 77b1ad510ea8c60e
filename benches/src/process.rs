//! What a process costs, read from `/proc`: CPU seconds (user + system, all
//! threads) and peak resident memory. Every engine is measured the same way,
//! whether it is a Hayate server process, the DuckDB runner or this process
//! (where single-node DataFusion runs).

use std::process::Child;

/// A child process that is killed when dropped, so that no benchmark run
/// leaves servers behind.
pub struct Proc {
    pub child: Child,
    /// What it is, for reports: "coordinator", "worker 1", ...
    pub role: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds process `pid` has used so far, all threads, user + system.
/// Linux accounts them in clock ticks (10 ms), so short queries are summed
/// over several runs before they are divided.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name is in parentheses and may hold spaces: fields
    // are counted after its closing one (state is the first).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Peak resident memory of `pid` in bytes since it started or since
/// [`reset_peak_memory`] (the kernel's `VmHWM`).
pub fn peak_memory(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Starts measuring `pid`'s peak memory afresh (Linux 4.0+: writing 5 to
/// `clear_refs` sets `VmHWM` to the current resident size).
pub fn reset_peak_memory(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A group of processes measured together around a piece of work.
#[derive(Clone, Debug)]
pub struct Meter {
    /// (role, pid) of every process that does the work.
    pub processes: Vec<(String, u32)>,
}

/// What one piece of work cost each process.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Cost {
    /// CPU seconds per process, by role.
    pub cpu_seconds: Vec<(String, f64)>,
    /// Peak resident bytes per process while the work ran, by role.
    pub peak_bytes: Vec<(String, u64)>,
}

impl Cost {
    pub fn total_cpu(&self) -> f64 {
        self.cpu_seconds.iter().map(|(_, s)| s).sum()
    }

    pub fn max_peak(&self) -> u64 {
        self.peak_bytes.iter().map(|(_, b)| *b).max().unwrap_or(0)
    }

    /// This cost divided over `n` repetitions of the work (CPU only: a peak
    /// is a peak).
    pub fn per_run(mut self, n: usize) -> Self {
        for (_, s) in &mut self.cpu_seconds {
            *s /= n.max(1) as f64;
        }
        self
    }
}

/// The CPU reading at the start of a measurement.
pub struct Started {
    cpu: Vec<f64>,
}

impl Meter {
    pub fn new(processes: Vec<(String, u32)>) -> Self {
        Self { processes }
    }

    pub fn this_process(role: &str) -> Self {
        Self::new(vec![(role.to_string(), std::process::id())])
    }

    pub fn start(&self) -> Started {
        for (_, pid) in &self.processes {
            reset_peak_memory(*pid);
        }
        Started {
            cpu: self
                .processes
                .iter()
                .map(|(_, pid)| cpu_seconds(*pid))
                .collect(),
        }
    }

    pub fn stop(&self, started: Started) -> Cost {
        let mut cost = Cost::default();
        for ((role, pid), before) in self.processes.iter().zip(started.cpu) {
            cost.cpu_seconds
                .push((role.clone(), (cpu_seconds(*pid) - before).max(0.0)));
            cost.peak_bytes.push((role.clone(), peak_memory(*pid)));
        }
        cost
    }
}
