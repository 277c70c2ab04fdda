//! What the machine was doing during a measurement, from `/proc` (Linux only): resident memory
//! of a process, and how long the cores were busy or waiting for the disk. Timings by the wall
//! clock are only as good as the machine was quiet, and a peer that waits for its disk is not
//! short of CPU; both are reported beside the figures.

use std::time::Instant;

use anyhow::Context;

use crate::bench::process::{machine_ticks, process_own_ticks, ticks_per_second};

/// Resident set size of a process (this one when `pid` is None), from `/proc/<pid>/status`.
pub fn resident_bytes(pid: Option<u32>) -> anyhow::Result<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let kilobytes = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<u64>().ok())
        .with_context(|| format!("no VmRSS in {path}"))?;
    Ok(kilobytes * 1024)
}

/// Where the cores' time went between `start` and `finish`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub seconds: f64,
    /// CPU seconds of the watched process.
    pub process_cpu: f64,
    /// Cores kept busy by everything else.
    pub other_cores: f64,
    /// Cores idle while waiting for the disk.
    pub iowait_cores: f64,
}

impl Usage {
    pub fn process_cores(&self) -> f64 {
        self.process_cpu / self.seconds.max(1e-9)
    }
}

/// A running measurement of one process and of the machine around it.
pub struct Meter {
    pid: u32,
    ticks_per_second: f64,
    started: Instant,
    process: u64,
    busy: u64,
    iowait: u64,
}

impl Meter {
    pub fn start(pid: u32) -> anyhow::Result<Meter> {
        let (busy, iowait) = machine_ticks()?;
        Ok(Meter {
            pid,
            ticks_per_second: ticks_per_second(),
            started: Instant::now(),
            process: process_own_ticks(pid)?,
            busy,
            iowait,
        })
    }

    pub fn finish(&self) -> anyhow::Result<Usage> {
        let (busy, iowait) = machine_ticks()?;
        let process = process_own_ticks(self.pid)?;
        let seconds = self.started.elapsed().as_secs_f64();
        let to_seconds = |ticks: u64| ticks as f64 / self.ticks_per_second;
        let process_cpu = to_seconds(process.saturating_sub(self.process));
        let machine_busy = to_seconds(busy.saturating_sub(self.busy));
        Ok(Usage {
            seconds,
            process_cpu,
            other_cores: ((machine_busy - process_cpu) / seconds.max(1e-9)).max(0.0),
            iowait_cores: to_seconds(iowait.saturating_sub(self.iowait)) / seconds.max(1e-9),
        })
    }
}
