//! `helios-pcap`: UDP datagrams out of pcap / pcapng captures, for replaying real exporters' traffic
//! through the decoders (`helios decode`, pcap replay tests).
//!
//! Link types: Ethernet, raw IP, IPv4, IPv6, BSD loopback, Linux cooked (SLL, SLL2). Packets are
//! parsed with `helios_core::decode::packet`; IP fragments past the first cannot be reassembled and are
//! counted, not guessed at.

#![forbid(unsafe_code)]

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use helios_core::decode::packet::{self, LinkType};
use helios_core::flow::{FlowRecord, Layer};
use pcap_parser::{Block, Linktype, PcapBlockOwned, PcapError};

/// Errors reading a capture.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The capture.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a pcap / pcapng capture, or is corrupt.
    #[error("{}: not a readable pcap/pcapng capture: {detail}", path.display())]
    Format {
        /// The capture.
        path: PathBuf,
        /// What the parser reported.
        detail: String,
    },
}

/// One UDP datagram from a capture.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    /// IP source address: the exporter.
    pub src: IpAddr,
    /// UDP destination port.
    pub dst_port: u16,
    /// Capture time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// What was in a capture besides UDP datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packets in the capture.
    pub packets: u64,
    /// UDP datagrams handed to the callback.
    pub udp: u64,
    /// Packets that were not (whole, first-fragment) UDP over IP, or of an unsupported link type.
    pub skipped: u64,
}

/// Calls `f` with every UDP datagram of the capture at `path`, in file order.
pub fn for_each_udp(path: &Path, mut f: impl FnMut(UdpDatagram<'_>)) -> Result<ReadStats, Error> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let format = |e: PcapError<&[u8]>| Error::Format { path: path.to_owned(), detail: format!("{e:?}") };
    let file = File::open(path).map_err(io)?;
    let mut reader = pcap_parser::create_reader(1 << 20, file)
        .map_err(|e| Error::Format { path: path.to_owned(), detail: format!("{e:?}") })?;
    let mut stats = ReadStats::default();
    // Legacy pcap: one link type and resolution; pcapng: per interface.
    let mut legacy = (Linktype::ETHERNET, 1_000u64);
    let mut interfaces: Vec<(Linktype, Resolution)> = Vec::new();
    let mut deliver = |link: Linktype, ts_ns: u64, data: &[u8], stats: &mut ReadStats| {
        stats.packets += 1;
        match udp_of(link, data) {
            Some((src, dst_port, payload)) => {
                stats.udp += 1;
                f(UdpDatagram { src, dst_port, ts_ns, payload });
            }
            None => stats.skipped += 1,
        }
    };
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = (h.network, if h.is_nanosecond_precision() { 1 } else { 1_000 });
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts = u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * legacy.1;
                        deliver(legacy.0, ts, b.data, &mut stats);
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push((idb.linktype, Resolution(idb.if_tsresol)));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (link, res) =
                            interfaces.get(epb.if_id as usize).copied().unwrap_or((Linktype::ETHERNET, Resolution(6)));
                        let ts = res.to_ns((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low));
                        let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                        deliver(link, ts, data, &mut stats);
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let link = interfaces.first().map_or(Linktype::ETHERNET, |i| i.0);
                        deliver(link, 0, spb.data, &mut stats);
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(consumed);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().map_err(format)?,
            Err(e) => return Err(format(e)),
        }
    }
    Ok(stats)
}

/// pcapng `if_tsresol`: 10^-n seconds, or 2^-n when the high bit is set.
#[derive(Debug, Clone, Copy)]
struct Resolution(u8);

impl Resolution {
    fn to_ns(self, ticks: u64) -> u64 {
        let n = u32::from(self.0 & 0x7f);
        if self.0 & 0x80 != 0 {
            return ((u128::from(ticks) * 1_000_000_000) >> n.min(127)) as u64;
        }
        match n {
            0..=9 => ticks.saturating_mul(10u64.pow(9 - n)),
            _ => ticks / 10u64.saturating_pow(n - 9),
        }
    }
}

/// The source address, destination port and payload of a UDP packet on link type `link`.
fn udp_of(link: Linktype, data: &[u8]) -> Option<(IpAddr, u16, &[u8])> {
    let (kind, l3) = match link {
        Linktype::ETHERNET => (LinkType::Ethernet, data),
        Linktype::RAW | Linktype(12) => (LinkType::Ip, data),
        Linktype::IPV4 => (LinkType::Ipv4, data),
        Linktype::IPV6 => (LinkType::Ipv6, data),
        Linktype::NULL | Linktype::LOOP => (LinkType::Ip, data.get(4..)?),
        Linktype::LINUX_SLL => (LinkType::Ip, data.get(16..)?),
        Linktype::LINUX_SLL2 => (LinkType::Ip, data.get(20..)?),
        _ => return None,
    };
    let (mut rec, mut lists) = (FlowRecord::default(), None);
    let payload = packet::parse(l3, kind, &mut rec, &mut lists);
    // The UDP layer is only recorded for a whole UDP header of an unfragmented (or first) packet.
    if !rec.layer_stack.contains(Layer::Udp) {
        return None;
    }
    Some((rec.src_addr.ip()?, rec.dst_port, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions_convert_to_nanoseconds() {
        assert_eq!(Resolution(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(Resolution(9).to_ns(7), 7);
        assert_eq!(Resolution(12).to_ns(7_000), 7);
        assert_eq!(Resolution(0x80 | 10).to_ns(1024), 1_000_000_000);
    }
}
