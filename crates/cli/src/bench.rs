//! `sloscope bench`: load generators and measurements, with the peer's figures from the same run.

#[derive(clap::Subcommand)]
pub enum BenchCommand {}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {}
}
