//! Synthetic exporters: NetFlow v9, IPFIX and sFlow v5 datagrams carrying made-up but plausible
//! flows (addresses from a pool, ports, sizes), deterministic for a seed. Each exporter keeps its own
//! sequence numbers and sends its templates first and then every `TEMPLATE_EVERY` datagrams, as
//! routers do.

/// Flow records per NetFlow v9 / IPFIX datagram (35-byte records: 1,1xx bytes, one Ethernet frame).
const RECORDS_PER_DATAGRAM: usize = 30;
/// Flow samples per sFlow datagram.
const SAMPLES_PER_DATAGRAM: usize = 8;
/// Templates are re-sent every this many datagrams.
const TEMPLATE_EVERY: u32 = 1000;
const TEMPLATE_ID: u16 = 256;

/// (element id, length) of the v9 / IPFIX template: src/dst address, ports, protocol, bytes, packets,
/// interfaces, TCP flags, ToS, and flow start/end (v9: sysUptime ms, IPFIX: epoch ms).
const FIELDS_V9: [(u16, u16); 13] =
    [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (10, 2), (14, 2), (6, 1), (5, 1), (22, 4), (21, 4)];
const FIELDS_IPFIX: [(u16, u16); 13] =
    [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (10, 2), (14, 2), (6, 1), (5, 1), (152, 8), (153, 8)];

/// Which protocol an exporter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// NetFlow v9.
    NetflowV9,
    /// IPFIX.
    Ipfix,
    /// sFlow v5 flow samples with raw Ethernet/IPv4/TCP headers.
    Sflow,
}

/// One synthetic exporter.
#[derive(Debug)]
pub struct Exporter {
    kind: Kind,
    agent: [u8; 4],
    sequence: u32,
    datagrams: u32,
    rng: u64,
}

impl Exporter {
    /// An exporter of `kind` whose agent address is `agent`, its flows drawn from `seed`.
    pub fn new(kind: Kind, agent: [u8; 4], seed: u64) -> Exporter {
        Exporter { kind, agent, sequence: 0, datagrams: 0, rng: seed | 1 }
    }

    /// Writes the next datagram into `out` (cleared first); `now_ms` is wall-clock time. Returns the
    /// flows it carries.
    pub fn next(&mut self, now_ms: u64, out: &mut Vec<u8>) -> usize {
        out.clear();
        let with_template = self.datagrams.is_multiple_of(TEMPLATE_EVERY);
        self.datagrams = self.datagrams.wrapping_add(1);
        match self.kind {
            Kind::NetflowV9 => self.netflow_v9(now_ms, with_template, out),
            Kind::Ipfix => self.ipfix(now_ms, with_template, out),
            Kind::Sflow => self.sflow(out),
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: fast, deterministic, good enough for test traffic.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Values of one flow, in template order (times relative to `now_ms`).
    fn flow(&mut self, now_ms: u64, ipfix: bool) -> [u64; 13] {
        let r = self.random();
        let src = u64::from(u32::from_be_bytes([10, (r >> 8) as u8 & 0x3f, (r >> 16) as u8, (r >> 24) as u8]));
        let dst = u64::from(u32::from_be_bytes([198, 51, 100, (r >> 32) as u8]));
        let bytes = 64 + (r >> 40) % 1400;
        let uptime = uptime_ms(now_ms);
        let (start, end) = if ipfix { (now_ms - 2000, now_ms - 1000) } else { (uptime - 2000, uptime - 1000) };
        [
            src,
            dst,
            1024 + (r >> 48) % 60_000,
            [443, 80, 53, 22][(r % 4) as usize],
            6,
            bytes,
            1 + (r >> 56) % 8,
            1,
            2,
            0x18,
            0,
            start,
            end,
        ]
    }

    fn netflow_v9(&mut self, now_ms: u64, with_template: bool, out: &mut Vec<u8>) -> usize {
        let uptime = uptime_ms(now_ms) as u32;
        out.extend_from_slice(&9u16.to_be_bytes());
        let count = RECORDS_PER_DATAGRAM as u16 + u16::from(with_template);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&uptime.to_be_bytes());
        out.extend_from_slice(&((now_ms / 1000) as u32).to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes()); // source id
        self.sequence = self.sequence.wrapping_add(1);
        if with_template {
            template_set(out, 0, &FIELDS_V9);
        }
        self.data_set(now_ms, false, &FIELDS_V9, out);
        RECORDS_PER_DATAGRAM
    }

    fn ipfix(&mut self, now_ms: u64, with_template: bool, out: &mut Vec<u8>) -> usize {
        out.extend_from_slice(&10u16.to_be_bytes());
        out.extend_from_slice(&[0, 0]); // length, set below
        out.extend_from_slice(&((now_ms / 1000) as u32).to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes()); // observation domain
        self.sequence = self.sequence.wrapping_add(RECORDS_PER_DATAGRAM as u32);
        if with_template {
            template_set(out, 2, &FIELDS_IPFIX);
        }
        self.data_set(now_ms, true, &FIELDS_IPFIX, out);
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        RECORDS_PER_DATAGRAM
    }

    fn data_set(&mut self, now_ms: u64, ipfix: bool, fields: &[(u16, u16)], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for _ in 0..RECORDS_PER_DATAGRAM {
            let values = self.flow(now_ms, ipfix);
            for (&(_, len), v) in fields.iter().zip(values) {
                out.extend_from_slice(&v.to_be_bytes()[8 - usize::from(len)..]);
            }
        }
        while !(out.len() - start).is_multiple_of(4) {
            out.push(0);
        }
        let len = (out.len() - start) as u16;
        out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    fn sflow(&mut self, out: &mut Vec<u8>) -> usize {
        let u32s = |out: &mut Vec<u8>, vs: &[u32]| vs.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
        u32s(out, &[5, 1]);
        out.extend_from_slice(&self.agent);
        u32s(out, &[0, self.sequence, self.sequence.wrapping_mul(10), SAMPLES_PER_DATAGRAM as u32]);
        self.sequence = self.sequence.wrapping_add(1);
        for i in 0..SAMPLES_PER_DATAGRAM as u32 {
            let r = self.random();
            let header = packet_header(r);
            // flow_sample (enterprise 0, format 1): one raw packet header record (format 1).
            let record_len = 16 + header.len() as u32;
            let sample_len = 32 + 8 + record_len;
            u32s(out, &[1, sample_len, self.sequence.wrapping_mul(8) + i, 3, 1000, 1000 * (i + 1), 0, 3, 4, 1]);
            u32s(out, &[1, record_len, 1, 64 + (r as u32 % 1400), 4, header.len() as u32]);
            out.extend_from_slice(&header);
        }
        SAMPLES_PER_DATAGRAM
    }
}

/// The exporter's uptime in ms (fits NetFlow v9's 32 bits; always more than an hour, so flow start
/// times are never before boot).
fn uptime_ms(now_ms: u64) -> u64 {
    3_600_000 + now_ms % 3_000_000_000
}

/// A template set (`set_id` 0: NetFlow v9, 2: IPFIX) announcing `fields` as template 256.
fn template_set(out: &mut Vec<u8>, set_id: u16, fields: &[(u16, u16)]) {
    let len = 4 + 4 + 4 * fields.len() as u16;
    for v in [set_id, len, TEMPLATE_ID, fields.len() as u16] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for &(id, l) in fields {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&l.to_be_bytes());
    }
}

/// Ethernet + IPv4 + TCP headers (54 bytes, padded to 56) of a sampled packet.
fn packet_header(r: u64) -> [u8; 56] {
    let mut h = [0u8; 56];
    h[0..6].copy_from_slice(&[0x00, 0x50, 0x56, 0x00, 0x00, 0x02]);
    h[6..12].copy_from_slice(&[0x00, 0x50, 0x56, 0x00, 0x00, 0x01]);
    h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut h[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&1400u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, (r >> 8) as u8 & 0x3f, (r >> 16) as u8, (r >> 24) as u8]);
    ip[16..20].copy_from_slice(&[198, 51, 100, (r >> 32) as u8]);
    let tcp = &mut h[34..54];
    tcp[0..2].copy_from_slice(&(1024 + ((r >> 40) % 60_000) as u16).to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    h
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use helios_core::decode::{Decoder, DecoderConfig};
    use helios_core::flow::Batch;

    use super::*;

    #[test]
    fn every_kind_decodes_to_the_flows_it_claims() {
        for kind in [Kind::NetflowV9, Kind::Ipfix, Kind::Sflow] {
            let mut e = Exporter::new(kind, [127, 0, 0, 9], 42);
            let mut decoder = Decoder::new(DecoderConfig::default());
            let mut batch = Batch::with_capacity(64);
            let mut out = Vec::new();
            for _ in 0..3 {
                let claimed = e.next(1_700_000_000_000, &mut out);
                batch.clear();
                let n = decoder.decode(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), 0, &out, &mut batch);
                assert_eq!(n, Ok(claimed), "{kind:?}");
                let per = if kind == Kind::Sflow { SAMPLES_PER_DATAGRAM } else { RECORDS_PER_DATAGRAM };
                assert_eq!(claimed, per);
            }
            let r = &batch.records()[0];
            assert_eq!(r.proto, 6, "{kind:?}");
            assert!(r.bytes >= 64 && r.src_addr.as_bytes()[0] == 10, "{kind:?}: {r:?}");
        }
    }
}
