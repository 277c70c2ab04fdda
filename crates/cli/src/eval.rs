//! `sloscope eval ...`: offline evaluations of the investigation's building blocks on public,
//! labelled data sets, each printed beside the published figures of its peers.
//!
//! `eval loghub` mines the Loghub-2k samples with one miner configuration for all systems and
//! reports the grouping accuracy of the Loghub benchmark beside Drain's.

mod csv;
mod loghub;

#[derive(clap::Subcommand)]
pub enum EvalCommand {
    /// Log template mining on the Loghub-2k samples: grouping accuracy per system beside Drain's.
    Loghub(loghub::LoghubArgs),
}

pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Loghub(args) => loghub::run(&args),
    }
}
