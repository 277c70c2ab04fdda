//! CPU time of a server under test, read from `/proc` (Linux only): user plus system time of the
//! process and all its descendants, so a target that forks helpers is charged for them too.
//! Also: free loopback ports for the targets to listen on.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Converts `/proc` clock ticks into seconds.
#[derive(Clone, Copy)]
pub struct CpuClock {
    ticks_per_second: f64,
}

impl CpuClock {
    pub fn detect() -> CpuClock {
        CpuClock {
            ticks_per_second: ticks_per_second(),
        }
    }

    /// CPU seconds used so far by `pid` and its live descendants, plus the children they reaped.
    pub fn process_tree_seconds(&self, pid: u32) -> anyhow::Result<f64> {
        let processes = read_all_processes();
        let root = processes
            .get(&pid)
            .with_context(|| format!("process {pid} is gone"))?;
        let mut ticks = root.cpu_ticks;
        let mut pending = vec![pid];
        while let Some(parent) = pending.pop() {
            for (child_pid, child) in &processes {
                if child.parent_pid == parent && *child_pid != pid {
                    ticks += child.cpu_ticks;
                    pending.push(*child_pid);
                }
            }
        }
        Ok(ticks as f64 / self.ticks_per_second)
    }

    /// CPU seconds used so far by `pid` alone (all its threads, not its children).
    pub fn process_seconds(&self, pid: u32) -> anyhow::Result<f64> {
        Ok(process_own_ticks(pid)? as f64 / self.ticks_per_second)
    }

    /// CPU seconds all cores have spent busy since boot (`/proc/stat`): with the server's and
    /// the client's own share taken out, what else ran on the machine during a run.
    pub fn machine_busy_seconds(&self) -> anyhow::Result<f64> {
        let (busy, _) = machine_ticks()?;
        Ok(busy as f64 / self.ticks_per_second)
    }

    /// Waits until the process tree stops using CPU (less than 2 % of a core over a quarter
    /// second) and returns its CPU seconds then: work a server does after acknowledging, such
    /// as batching, exporting or rolling, belongs to the figure.
    pub fn seconds_once_idle(&self, pid: u32, limit: Duration) -> anyhow::Result<f64> {
        let interval = Duration::from_millis(250);
        let started = Instant::now();
        let mut previous = self.process_tree_seconds(pid)?;
        loop {
            std::thread::sleep(interval);
            let current = self.process_tree_seconds(pid)?;
            if current - previous < 0.02 * interval.as_secs_f64() || started.elapsed() >= limit {
                return Ok(current);
            }
            previous = current;
        }
    }
}

/// Clock ticks per second of `/proc` times, from `getconf CLK_TCK`; Linux has used 100
/// everywhere for decades, so that is the fallback.
pub fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// Ticks of `pid`'s own threads (user + system), without its children.
pub fn process_own_ticks(pid: u32) -> anyhow::Result<u64> {
    let times = read_process(Path::new(&format!("/proc/{pid}")))
        .with_context(|| format!("process {pid} is gone"))?;
    Ok(times.own_ticks)
}

/// Busy and I/O-wait ticks of all cores since boot, from `/proc/stat`.
pub fn machine_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .context("/proc/stat has no cpu line")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(index, _)| *index != 3 && *index != 4)
        .map(|(_, ticks)| ticks)
        .sum();
    Ok((busy, fields.get(4).copied().unwrap_or(0)))
}

struct ProcessTimes {
    parent_pid: u32,
    /// utime + stime: the process's own threads.
    own_ticks: u64,
    /// utime + stime + cutime + cstime: with the children it has reaped.
    cpu_ticks: u64,
}

fn read_all_processes() -> HashMap<u32, ProcessTimes> {
    let mut processes = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return processes;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(times) = read_process(&entry.path()) {
            processes.insert(pid, times);
        }
    }
    processes
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from its closing parenthesis: state is field 3, ppid 4, utime 14,
/// stime 15, cutime 16, cstime 17.
fn read_process(directory: &Path) -> Option<ProcessTimes> {
    let stat = std::fs::read_to_string(directory.join("stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<ProcessTimes> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 of the file.
    let field = |number: usize| {
        fields
            .get(number - 3)
            .and_then(|text| text.parse::<u64>().ok())
    };
    let parent_pid = u32::try_from(field(4)?).ok()?;
    let own_ticks = field(14)? + field(15)?;
    let cpu_ticks = own_ticks + field(16)? + field(17)?;
    Some(ProcessTimes {
        parent_pid,
        own_ticks,
        cpu_ticks,
    })
}

/// A loopback address with a port nobody listens on right now.
pub fn free_loopback_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    listener
        .local_addr()
        .context("cannot read the bound address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_name_holding_spaces_and_parentheses() {
        let stat = "1234 (tokio (worker) 1) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 3 2 20 0 9 0 100 0 0";
        let times = parse_stat(stat).expect("parses");
        assert_eq!(times.parent_pid, 1);
        assert_eq!(times.own_ticks, 250 + 50);
        assert_eq!(times.cpu_ticks, 250 + 50 + 3 + 2);
    }

    #[test]
    fn own_process_has_cpu_time() {
        let clock = CpuClock::detect();
        let seconds = clock
            .process_tree_seconds(std::process::id())
            .expect("own process");
        assert!(seconds >= 0.0);
    }
}
