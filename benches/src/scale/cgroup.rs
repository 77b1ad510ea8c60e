//! A CPU quota for a group of processes: a model node gets `cores` cores'
//! worth of CPU time per period, however many threads it runs, as a
//! container with a CPU limit does. cgroup v2 (`cpu.max`) where it is the
//! whole hierarchy; cgroup v1 (`cpu.cfs_quota_us`) otherwise.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The scheduler period quotas are given in: 100 ms, the kernel's default.
const PERIOD_US: u64 = 100_000;

/// One cgroup with a CPU quota, removed when dropped (its processes must
/// have ended by then).
#[derive(Debug)]
pub struct CpuGroup {
    pub name: String,
    pub cores: f64,
    dir: PathBuf,
    /// The group this process was in, to come back to after it ran inside
    /// (see [`CpuGroup::enter`]).
    home: PathBuf,
}

/// Which cgroup hierarchy governs CPU here, and where its root is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    V1,
    V2,
}

fn hierarchy() -> anyhow::Result<(Hierarchy, PathBuf)> {
    let v2 = Path::new("/sys/fs/cgroup");
    if v2.join("cgroup.controllers").exists() {
        return Ok((Hierarchy::V2, v2.to_path_buf()));
    }
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        return Ok((Hierarchy::V1, v1.to_path_buf()));
    }
    bail!("no cgroup CPU controller is mounted (neither cgroup v2 nor v1's cpu)")
}

/// The folder of this process's own cgroup in `root`, from
/// `/proc/self/cgroup` (`0::/path` for v2, `N:cpu,...:/path` for v1).
fn own_group(kind: Hierarchy, root: &Path) -> PathBuf {
    let table = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = table.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match kind {
            Hierarchy::V2 => controllers.is_empty(),
            Hierarchy::V1 => controllers.split(',').any(|c| c == "cpu"),
        };
        wanted.then(|| path.trim_start_matches('/').to_string())
    });
    root.join(path.unwrap_or_default())
}

impl CpuGroup {
    /// A group `hayate-scale/<name>` limited to `cores` cores (fractions
    /// allowed). A group of that name left by an earlier run is reused.
    pub fn new(name: &str, cores: f64) -> anyhow::Result<Self> {
        let (kind, root) = hierarchy()?;
        let parent = root.join("hayate-scale");
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {} (run as root)", parent.display()))?;
        let quota = ((cores * PERIOD_US as f64).round() as u64).max(1000);
        if kind == Hierarchy::V2 {
            // The cpu controller must be handed down to the parent's
            // children; harmless if it already is.
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu");
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+cpu");
        }
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir)?;
        match kind {
            Hierarchy::V2 => write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?,
            Hierarchy::V1 => {
                write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        Ok(Self {
            name: name.to_string(),
            cores,
            home: own_group(kind, &root),
            dir,
        })
    }

    /// The file a process id is written to to move that process (every
    /// thread of it) into the group.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Moves this whole process into the group until the guard is dropped:
    /// single-node DataFusion runs in the benchmark's own process.
    pub fn enter(&self) -> anyhow::Result<Entered<'_>> {
        write(&self.procs_file(), &std::process::id().to_string())?;
        Ok(Entered { group: self })
    }

    /// Times the group's processes were held back by the quota, and for how
    /// long in all (v1 `cpu.stat`: nr_throttled, throttled_time in ns; v2:
    /// nr_throttled, throttled_usec).
    pub fn throttled(&self) -> (u64, f64) {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).unwrap_or_default();
        let field = |name: &str| {
            stat.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let seconds = if stat.contains("throttled_usec") {
            field("throttled_usec ") as f64 / 1e6
        } else {
            field("throttled_time ") as f64 / 1e9
        };
        (field("nr_throttled "), seconds)
    }
}

/// This process inside a [`CpuGroup`]; back in its own group when dropped.
pub struct Entered<'a> {
    group: &'a CpuGroup,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let _ = write(
            &self.group.home.join("cgroup.procs"),
            &std::process::id().to_string(),
        );
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // Fails while a process is still inside: the next run reuses it.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn write(path: &Path, value: &str) -> anyhow::Result<()> {
    std::fs::write(path, value).with_context(|| format!("writing {value} to {}", path.display()))
}
