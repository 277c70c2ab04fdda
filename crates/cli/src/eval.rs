//! `sloscope eval ...`: offline evaluations of the investigation's building blocks on public,
//! labelled data sets, each printed beside the published figures of its peers.
//!
//! `eval loghub` mines the Loghub-2k samples with one miner configuration for all systems and
//! reports the grouping accuracy of the Loghub benchmark beside Drain's. `eval nezha` replays a
//! Nezha recording of fault injections through the server's OTLP receivers and scores the
//! investigation's root-cause services beside Nezha's published accuracy.

mod csv;
mod loghub;
mod nezha;

#[derive(clap::Subcommand)]
pub enum EvalCommand {
    /// Log template mining on the Loghub-2k samples: grouping accuracy per system beside Drain's.
    Loghub(loghub::LoghubArgs),
    /// Root-cause services on a Nezha recording (Train Ticket fault injections): top-1/3/5
    /// accuracy of investigations through the real OTLP path and API, beside Nezha's figures.
    Nezha(nezha::NezhaArgs),
}

pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Loghub(args) => loghub::run(&args),
        EvalCommand::Nezha(args) => nezha::run(&args),
    }
}
