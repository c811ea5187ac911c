//! `helios sim`: synthetic exporters sending NetFlow v9, IPFIX and sFlow v5 at a set rate — load for
//! collectors (Helios's own load benchmark, or any other collector's).

mod datagrams;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use datagrams::{Exporter, Kind};

/// Send synthetic flow exports to a collector at a set rate.
///
/// Each exporter speaks one protocol (taken in turn from --kinds), sends its templates first and
/// every 1000 datagrams, and — when the target is on loopback — sends from its own address
/// 127.1.0.1 + n (127.1.0.1, 127.1.0.2, ..., 127.1.1.0, ...), as distinct routers would. Prints
/// what was sent as one JSON object on stdout at the end, and progress on stderr every second.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  helios sim --target 127.0.0.1:2055 --rate 200000 --duration 60 --exporters 8")]
pub struct Args {
    /// Collector address.
    #[arg(long, default_value = "127.0.0.1:2055")]
    target: SocketAddr,
    /// Flows per second, all exporters together.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Number of exporters.
    #[arg(long, default_value_t = 4)]
    exporters: u16,
    /// Protocols, assigned to exporters in turn.
    #[arg(long, value_delimiter = ',', default_value = "netflow-v9,ipfix,sflow")]
    kinds: Vec<Kind>,
    /// Seed of the flow contents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The address exporter `n` sends from on loopback (and names as its agent): 127.1.0.1 + n.
fn exporter_address(n: u16) -> Ipv4Addr {
    Ipv4Addr::from_bits(Ipv4Addr::new(127, 1, 0, 1).to_bits() + u32::from(n))
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.exporters > 0 && !args.kinds.is_empty(), "need at least one exporter and one kind");
    let loopback = args.target.ip().is_loopback();
    let mut exporters = Vec::new();
    for n in 0..args.exporters {
        let agent = exporter_address(n).octets();
        let bind: SocketAddr = match (loopback, args.target.ip()) {
            (true, IpAddr::V4(_)) => SocketAddr::from((Ipv4Addr::from(agent), 0)),
            (_, IpAddr::V4(_)) => SocketAddr::from(([0, 0, 0, 0], 0)),
            (_, IpAddr::V6(_)) => SocketAddr::from(([0u16; 8], 0)),
        };
        let socket = UdpSocket::bind(bind).with_context(|| format!("binding {bind}"))?;
        let kind = args.kinds[usize::from(n) % args.kinds.len()];
        exporters.push((Exporter::new(kind, agent, args.seed.wrapping_add(u64::from(n) * 7919)), socket));
    }
    let started = Instant::now();
    let end = started + Duration::from_secs(args.duration);
    let (mut flows, mut datagrams, mut next_report) = (0u64, 0u64, started + Duration::from_secs(1));
    let mut buf = Vec::with_capacity(2048);
    let mut turn = 0usize;
    let count = exporters.len();
    while Instant::now() < end {
        let due = (started.elapsed().as_secs_f64() * args.rate as f64) as u64;
        while flows < due {
            let (exporter, socket) = &mut exporters[turn % count];
            turn += 1;
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            flows += exporter.next(now_ms, &mut buf) as u64;
            socket.send_to(&buf, args.target).with_context(|| format!("sending to {}", args.target))?;
            datagrams += 1;
        }
        if Instant::now() >= next_report {
            eprintln!("helios sim: {flows} flows in {datagrams} datagrams, {:.0} s", started.elapsed().as_secs_f64());
            next_report += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        r#"{{"flows":{flows},"datagrams":{datagrams},"seconds":{seconds:.3},"flows_per_second":{:.0}}}"#,
        flows as f64 / seconds
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporters_get_consecutive_loopback_addresses_past_255() {
        assert_eq!(exporter_address(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(exporter_address(254), Ipv4Addr::new(127, 1, 0, 255));
        assert_eq!(exporter_address(255), Ipv4Addr::new(127, 1, 1, 0));
        assert_eq!(exporter_address(999), Ipv4Addr::new(127, 1, 3, 232));
        assert_eq!(exporter_address(u16::MAX), Ipv4Addr::new(127, 2, 0, 0));
    }
}
