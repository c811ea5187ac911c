//! Information elements (IPFIX, RFC 7012 / IANA registry; NetFlow v9 field types, RFC 3954 §8) mapped
//! onto [`FlowRecord`] fields. A template is compiled once into [`Target`]s; decoding a record is then a
//! walk over the compiled ops with no lookups and no length checks beyond the record's own.

use super::packet::{self, LinkType};
use super::reader::be_uint;
use crate::flow::{Addr, FlowRecord};

/// Template field length that announces a variable-length field (RFC 7011 §7).
pub(crate) const VARIABLE_LENGTH: u16 = 65535;

/// What to do with one field of a record. Decided when the template is compiled, with the field's
/// length already checked against what the target accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Ignore (zero-length fields, scope fields of option templates).
    Skip,
    /// Not mapped: kept as an extra field when the decoder keeps extras.
    Unmapped,
    Bytes,
    Packets,
    /// Post/out counters: used only when the primary counter is absent or zero.
    BytesFallback,
    PacketsFallback,
    Proto,
    Tos,
    TcpFlags,
    SrcPort,
    DstPort,
    /// IPv4 (4 bytes); the `6` variants below are the IPv6 (16-byte) elements.
    SrcAddr,
    SrcAddr6,
    DstAddr,
    DstAddr6,
    SrcNet,
    DstNet,
    InIf,
    OutIf,
    /// ingress/egressPhysicalInterface (IE 252/253): the interface when the logical one is absent.
    InIfPhysical,
    OutIfPhysical,
    NextHop,
    NextHop6,
    BgpNextHop,
    BgpNextHop6,
    SrcAs,
    DstAs,
    NextHopAs,
    StartUptimeMs,
    EndUptimeMs,
    StartSecs,
    EndSecs,
    StartMillis,
    EndMillis,
    StartNtp,
    EndNtp,
    SysInitMillis,
    FlowLabel,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    SamplingPacketInterval,
    /// samplingPacketSpace (IE 306): packets skipped between two sampled runs of IE 305.
    SamplingPacketSpace,
    SamplingInterval,
    SamplerRandomInterval,
    FragmentId,
    FragmentOffset,
    IpFlags,
    Ttl,
    SrcMac,
    DstMac,
    SrcVlan,
    DstVlan,
    VlanId,
    IpVersion,
    ForwardingStatus,
    ObservationPointId,
    MplsLabel,
    /// dataLinkFrameSection (IE 315): the sampled frame itself, from its Ethernet header on.
    DataLinkFrame,
}

/// The target of IANA element `id` with length `len`; anything whose length does not fit its target is
/// left unmapped rather than misread.
pub(crate) fn target_for(pen: u32, id: u16, len: u16) -> Target {
    use Target::*;
    if len == 0 {
        return Skip;
    }
    if pen == 0 && id == 315 {
        return DataLinkFrame;
    }
    if pen != 0 || len == VARIABLE_LENGTH {
        return Unmapped;
    }
    let (target, fits) = match id {
        1 => (Bytes, numeric(len)),
        2 => (Packets, numeric(len)),
        // dataLinkFrameSize (312): the sampled frame's length, where no octet count is given.
        23 | 85 | 312 => (BytesFallback, numeric(len)),
        24 | 86 => (PacketsFallback, numeric(len)),
        4 => (Proto, numeric(len)),
        5 => (Tos, numeric(len)),
        6 => (TcpFlags, numeric(len)),
        7 => (SrcPort, numeric(len)),
        11 => (DstPort, numeric(len)),
        8 => (SrcAddr, len == 4),
        12 => (DstAddr, len == 4),
        27 => (SrcAddr6, len == 16),
        28 => (DstAddr6, len == 16),
        9 | 29 => (SrcNet, numeric(len)),
        13 | 30 => (DstNet, numeric(len)),
        10 => (InIf, numeric(len)),
        14 => (OutIf, numeric(len)),
        252 => (InIfPhysical, numeric(len)),
        253 => (OutIfPhysical, numeric(len)),
        15 => (NextHop, len == 4),
        62 => (NextHop6, len == 16),
        18 => (BgpNextHop, len == 4),
        63 => (BgpNextHop6, len == 16),
        16 => (SrcAs, numeric(len)),
        17 => (DstAs, numeric(len)),
        128 => (NextHopAs, numeric(len)),
        21 => (EndUptimeMs, numeric(len)),
        22 => (StartUptimeMs, numeric(len)),
        150 => (StartSecs, numeric(len)),
        151 => (EndSecs, numeric(len)),
        152 => (StartMillis, numeric(len)),
        153 => (EndMillis, numeric(len)),
        154 | 156 => (StartNtp, len == 8),
        155 | 157 => (EndNtp, len == 8),
        160 => (SysInitMillis, numeric(len)),
        31 => (FlowLabel, numeric(len)),
        32 | 139 => (IcmpTypeCode, numeric(len)),
        176 | 178 => (IcmpType, numeric(len)),
        177 | 179 => (IcmpCode, numeric(len)),
        305 => (SamplingPacketInterval, numeric(len)),
        306 => (SamplingPacketSpace, numeric(len)),
        34 => (SamplingInterval, numeric(len)),
        50 => (SamplerRandomInterval, numeric(len)),
        54 => (FragmentId, numeric(len)),
        88 => (FragmentOffset, numeric(len)),
        197 => (IpFlags, numeric(len)),
        192 => (Ttl, numeric(len)),
        56 => (SrcMac, len == 6),
        80 => (DstMac, len == 6),
        58 => (SrcVlan, numeric(len)),
        59 => (DstVlan, numeric(len)),
        243 => (VlanId, numeric(len)),
        60 => (IpVersion, numeric(len)),
        89 => (ForwardingStatus, numeric(len)),
        138 => (ObservationPointId, numeric(len)),
        70..=79 => (MplsLabel, len == 3 || len == 4),
        _ => (Unmapped, true),
    };
    if fits { target } else { Unmapped }
}

const fn numeric(len: u16) -> bool {
    len >= 1 && len <= 8
}

/// Per-record values that need the whole record (or the exporter's option data) before they can be
/// turned into record fields.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Scratch {
    /// Sampling rate seen in this record and the priority of its element (IE 305 > 34 > 50).
    sampling: u64,
    sampling_priority: u8,
    /// IE 305 and IE 306, which together make the rate (interval + space) / interval.
    packet_interval: u64,
    packet_space: u64,
    /// Physical interfaces (IE 252/253), used when the logical ones are absent.
    in_if_physical: u32,
    out_if_physical: u32,
    /// The record carried its sampled frame (IE 315): one packet when it counts none.
    frame: bool,
    /// Any of the elements above was seen: [`finish`] then has more to do (rare, kept off the
    /// common path).
    rare: bool,
    pub(crate) sys_init_ms: u64,
    start_uptime_ms: Option<u32>,
    end_uptime_ms: Option<u32>,
    /// A bounded list overflowed (more MPLS labels than the record holds).
    pub(crate) truncated: bool,
}

impl Scratch {
    fn offer_sampling(&mut self, priority: u8, v: u64) {
        if priority > self.sampling_priority && v != 0 {
            self.sampling = v;
            self.sampling_priority = priority;
        }
    }

    /// The sampling rate the record states (0: none): from IE 305 and 306 when both are there (1 in
    /// 1 + 999 packets is 1:1000), else the element of highest priority.
    pub(crate) fn sampling_rate(&self) -> u64 {
        if self.packet_interval != 0 && self.packet_space != 0 {
            self.packet_interval.saturating_add(self.packet_space) / self.packet_interval
        } else {
            self.sampling
        }
    }
}

/// Sets an address field from a record's element unless that would replace an address with zeros:
/// records carrying both IPv4 and IPv6 fields leave the unused family zero, in either order.
#[inline(always)]
fn keep_address(slot: &mut Addr, new: Addr) {
    if !new.is_unspecified() || slot.is_none() {
        *slot = new;
    }
}

/// Datagram-level clock of NetFlow v9 / IPFIX, for fields relative to the exporter's uptime.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Clock {
    /// Export time of the datagram, in ns since the Unix epoch.
    pub(crate) export_ns: u64,
    /// NetFlow v9 header `sys_uptime` (ms); `None` for IPFIX.
    pub(crate) uptime_ms: Option<u32>,
    /// IPFIX `systemInitTimeMilliseconds` learnt from the exporter's option data (0 = unknown).
    pub(crate) sys_init_ms: u64,
}

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
/// Seconds from the NTP era (1900) to the Unix epoch (RFC 7011 §6.1.10).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

fn ntp_to_unix_ns(v: u64) -> u64 {
    let secs = (v >> 32).saturating_sub(NTP_UNIX_OFFSET);
    let frac = ((v & 0xffff_ffff) * NS_PER_S) >> 32;
    secs.saturating_mul(NS_PER_S).saturating_add(frac)
}

/// The right shift that turns the 8 bytes loaded at a `len`-byte numeric field into its value (the
/// field's bytes are the high-order ones of the big-endian load). 0 for anything that is not 1..=8.
pub(crate) const fn numeric_shift(len: u16) -> u8 {
    if numeric(len) { (64 - 8 * len) as u8 } else { 0 }
}

/// Writes the value `v` of a field with target `t` into `rec` (the slow path, for variable-length
/// and options records).
#[inline]
pub(crate) fn apply(t: Target, v: &[u8], rec: &mut FlowRecord, s: &mut Scratch) {
    read_into(t, numeric_shift(v.len() as u16), v, 0, v.len(), rec, s);
}

/// The unsigned integer in the `len` bytes at `at` of `data`: one 8-byte load shifted right by
/// `shift` (bytes past the field are shifted out), or byte by byte near the end of `data`. 0 when
/// the field is out of bounds, which the callers' framing rules out.
#[inline(always)]
fn uint_at(data: &[u8], at: usize, len: usize, shift: u8) -> u64 {
    match data.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(b) => u64::from_be_bytes(*b) >> shift,
        None => data.get(at..at + len).map_or(0, be_uint),
    }
}

/// Reads field `t`, `len` bytes at `at` of `data`, and writes it into `rec`: one dispatch per field.
/// For numeric targets `shift` is [`numeric_shift`] of `len`, precomputed when the template is
/// compiled. Values wider than their record field (a 4-byte port, say) keep their low-order bits.
#[inline(always)]
pub(crate) fn read_into(
    t: Target,
    shift: u8,
    data: &[u8],
    at: usize,
    len: usize,
    rec: &mut FlowRecord,
    s: &mut Scratch,
) {
    use Target::*;
    let n = || uint_at(data, at, len, shift);
    let v4 = || Addr::v4((n() as u32).to_be_bytes());
    let v6 = || data.get(at..).and_then(<[u8]>::first_chunk::<16>).map_or(Addr::NONE, |b| Addr::v6(*b));
    match t {
        Skip | Unmapped => {}
        Bytes => rec.bytes = n(),
        Packets => rec.packets = n(),
        BytesFallback => {
            if rec.bytes == 0 {
                rec.bytes = n()
            }
        }
        PacketsFallback => {
            if rec.packets == 0 {
                rec.packets = n()
            }
        }
        Proto => rec.proto = n() as u8,
        Tos => rec.ip_tos = n() as u8,
        TcpFlags => rec.tcp_flags = n() as u16,
        SrcPort => rec.src_port = n() as u16,
        DstPort => rec.dst_port = n() as u16,
        SrcAddr => keep_address(&mut rec.src_addr, v4()),
        SrcAddr6 => keep_address(&mut rec.src_addr, v6()),
        DstAddr => keep_address(&mut rec.dst_addr, v4()),
        DstAddr6 => keep_address(&mut rec.dst_addr, v6()),
        NextHop => keep_address(&mut rec.next_hop, v4()),
        NextHop6 => keep_address(&mut rec.next_hop, v6()),
        BgpNextHop => keep_address(&mut rec.bgp_next_hop, v4()),
        BgpNextHop6 => keep_address(&mut rec.bgp_next_hop, v6()),
        SrcNet => rec.src_net = n() as u8,
        DstNet => rec.dst_net = n() as u8,
        InIf => rec.in_if = n() as u32,
        OutIf => rec.out_if = n() as u32,
        InIfPhysical => {
            s.in_if_physical = n() as u32;
            s.rare = true;
        }
        OutIfPhysical => {
            s.out_if_physical = n() as u32;
            s.rare = true;
        }
        SrcAs => rec.src_as = n() as u32,
        DstAs => rec.dst_as = n() as u32,
        NextHopAs => rec.next_hop_as = n() as u32,
        StartUptimeMs => s.start_uptime_ms = Some(n() as u32),
        EndUptimeMs => s.end_uptime_ms = Some(n() as u32),
        StartSecs => rec.time_flow_start_ns = n().saturating_mul(NS_PER_S),
        EndSecs => rec.time_flow_end_ns = n().saturating_mul(NS_PER_S),
        StartMillis => rec.time_flow_start_ns = n().saturating_mul(NS_PER_MS),
        EndMillis => rec.time_flow_end_ns = n().saturating_mul(NS_PER_MS),
        StartNtp => rec.time_flow_start_ns = ntp_to_unix_ns(n()),
        EndNtp => rec.time_flow_end_ns = ntp_to_unix_ns(n()),
        SysInitMillis => s.sys_init_ms = n(),
        FlowLabel => rec.ipv6_flow_label = n() as u32 & 0x000f_ffff,
        IcmpTypeCode => {
            let v = n();
            rec.icmp_type = (v >> 8) as u8;
            rec.icmp_code = v as u8;
        }
        IcmpType => rec.icmp_type = n() as u8,
        IcmpCode => rec.icmp_code = n() as u8,
        SamplingPacketInterval => {
            s.packet_interval = n();
            s.offer_sampling(3, s.packet_interval);
        }
        SamplingPacketSpace => {
            s.packet_space = n();
            s.rare = true;
        }
        SamplingInterval => s.offer_sampling(2, n()),
        SamplerRandomInterval => s.offer_sampling(1, n()),
        FragmentId => rec.fragment_id = n() as u32,
        FragmentOffset => rec.fragment_offset = n() as u16,
        IpFlags => rec.ip_flags = n() as u8,
        Ttl => rec.ip_ttl = n() as u8,
        SrcMac => rec.src_mac = n(),
        DstMac => rec.dst_mac = n(),
        SrcVlan => rec.src_vlan = n() as u16,
        DstVlan => rec.dst_vlan = n() as u16,
        VlanId => rec.vlan_id = n() as u16,
        IpVersion => {
            rec.etype = match n() {
                4 => 0x0800,
                6 => 0x86dd,
                _ => rec.etype,
            }
        }
        ForwardingStatus => rec.forwarding_status = n() as u8,
        ObservationPointId => rec.observation_point_id = n() as u32,
        MplsLabel => {
            // RFC 3954 / RFC 7012: label (20 bits), EXP (3), bottom-of-stack (1) in the first 3 bytes.
            let v = data.get(at..at + len).unwrap_or(&[]);
            let label = (be_uint(v.get(..3).unwrap_or(v)) >> 4) as u32;
            if !rec.mpls_label.push(label) {
                s.truncated = true;
            }
        }
        DataLinkFrame => data_link_frame(data.get(at..at + len).unwrap_or(&[]), rec, s),
    }
}

/// A record's sampled frame (IE 315), read as sFlow's sampled headers are. Its lists (MPLS TTLs,
/// SRv6 segments) have no place in a templated record and are not kept.
#[cold]
#[inline(never)]
fn data_link_frame(frame: &[u8], rec: &mut FlowRecord, s: &mut Scratch) {
    s.frame = true;
    s.rare = true;
    packet::parse(frame, LinkType::Ethernet, rec, &mut None);
}

/// What the rare elements change once the record is read: the sampling rate from IE 305 and 306,
/// physical interfaces where the logical ones are absent, one packet for a sampled frame.
#[cold]
#[inline(never)]
fn finish_rare(rec: &mut FlowRecord, s: &Scratch) {
    let sampling = s.sampling_rate();
    if sampling != 0 {
        rec.sampling_rate = sampling;
    }
    if rec.in_if == 0 {
        rec.in_if = s.in_if_physical;
    }
    if rec.out_if == 0 {
        rec.out_if = s.out_if_physical;
    }
    if s.frame && rec.packets == 0 {
        rec.packets = 1;
    }
}

/// Completes a record once all its fields are applied: uptime-relative times become absolute, the
/// exporter's sampling rate fills in when the record carried none.
#[inline]
pub(crate) fn finish(rec: &mut FlowRecord, s: &Scratch, clock: &Clock, source_sampling: u64) {
    if s.start_uptime_ms.is_some() || s.end_uptime_ms.is_some() {
        let to_ns = |rel_ms: u32| -> u64 {
            match clock.uptime_ms {
                // NetFlow v9: relative to the header's sys_uptime; wrapping covers a uptime rollover.
                Some(up) => {
                    clock.export_ns.saturating_sub(u64::from(up.wrapping_sub(rel_ms)).saturating_mul(NS_PER_MS))
                }
                None => {
                    let init = if s.sys_init_ms != 0 { s.sys_init_ms } else { clock.sys_init_ms };
                    if init == 0 { 0 } else { init.saturating_add(u64::from(rel_ms)).saturating_mul(NS_PER_MS) }
                }
            }
        };
        if let Some(ms) = s.start_uptime_ms {
            rec.time_flow_start_ns = to_ns(ms);
        }
        if let Some(ms) = s.end_uptime_ms {
            rec.time_flow_end_ns = to_ns(ms);
        }
    }
    rec.sampling_rate = if s.sampling != 0 { s.sampling } else { source_sampling };
    if s.rare {
        finish_rare(rec, s);
    }
    // Without an ipVersion element, the family of the addresses kept.
    if rec.etype == 0 {
        rec.etype = if rec.src_addr.is_none() { rec.dst_addr.etype() } else { rec.src_addr.etype() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_that_do_not_fit_the_target_stay_unmapped() {
        assert_eq!(target_for(0, 8, 4), Target::SrcAddr);
        assert_eq!(target_for(0, 8, 16), Target::Unmapped);
        assert_eq!(target_for(0, 27, 4), Target::Unmapped);
        assert_eq!(target_for(0, 1, 9), Target::Unmapped);
        assert_eq!(target_for(0, 1, 0), Target::Skip);
        assert_eq!(target_for(0, 1, VARIABLE_LENGTH), Target::Unmapped);
        assert_eq!(target_for(9, 1, 4), Target::Unmapped);
        assert_eq!(target_for(0, 56, 6), Target::SrcMac);
        assert_eq!(target_for(0, 70, 3), Target::MplsLabel);
    }

    #[test]
    fn sampling_prefers_ie_305_then_34_then_50() {
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::SamplerRandomInterval, &[0, 5], &mut rec, &mut s);
        apply(Target::SamplingPacketInterval, &[0, 0, 0, 100], &mut rec, &mut s);
        apply(Target::SamplingInterval, &[0, 0, 0, 10], &mut rec, &mut s);
        finish(&mut rec, &s, &Clock::default(), 7);
        assert_eq!(rec.sampling_rate, 100);
        let mut rec = FlowRecord::default();
        finish(&mut rec, &Scratch::default(), &Clock::default(), 7);
        assert_eq!(rec.sampling_rate, 7);
    }

    #[test]
    fn uptime_relative_times_use_the_v9_header_or_the_ipfix_system_init_time() {
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::StartUptimeMs, &1_000u32.to_be_bytes(), &mut rec, &mut s);
        apply(Target::EndUptimeMs, &2_000u32.to_be_bytes(), &mut rec, &mut s);
        let v9 = Clock { export_ns: 10 * NS_PER_S, uptime_ms: Some(3_000), sys_init_ms: 0 };
        finish(&mut rec, &s, &v9, 0);
        assert_eq!((rec.time_flow_start_ns, rec.time_flow_end_ns), (8 * NS_PER_S, 9 * NS_PER_S));
        let ipfix = Clock { export_ns: 0, uptime_ms: None, sys_init_ms: 5_000 };
        finish(&mut rec, &s, &ipfix, 0);
        assert_eq!(rec.time_flow_start_ns, 6 * NS_PER_S);
        let unknown = Clock::default();
        finish(&mut rec, &s, &unknown, 0);
        assert_eq!(rec.time_flow_end_ns, 0);
    }

    #[test]
    fn a_doubled_address_keeps_the_non_zero_family_whatever_the_order() {
        let v4 = [81, 2, 69, 142];
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 1;
        for ipv6_first in [false, true] {
            let (mut v4_rec, mut v6_rec) = (FlowRecord::default(), FlowRecord::default());
            let mut s = Scratch::default();
            let (zero4, zero6) = ([0u8; 4], [0u8; 16]);
            let order: [(Target, &[u8]); 2] = if ipv6_first {
                [(Target::SrcAddr6, &zero6), (Target::SrcAddr, &v4)]
            } else {
                [(Target::SrcAddr, &v4), (Target::SrcAddr6, &zero6)]
            };
            for (t, v) in order {
                apply(t, v, &mut v4_rec, &mut s);
            }
            let order: [(Target, &[u8]); 2] = if ipv6_first {
                [(Target::DstAddr6, &v6), (Target::DstAddr, &zero4)]
            } else {
                [(Target::DstAddr, &zero4), (Target::DstAddr6, &v6)]
            };
            for (t, v) in order {
                apply(t, v, &mut v6_rec, &mut s);
            }
            finish(&mut v4_rec, &Scratch::default(), &Clock::default(), 0);
            finish(&mut v6_rec, &Scratch::default(), &Clock::default(), 0);
            assert_eq!((v4_rec.src_addr, v4_rec.etype), (Addr::v4(v4), 0x0800), "ipv6 first: {ipv6_first}");
            assert_eq!((v6_rec.dst_addr, v6_rec.etype), (Addr::v6(v6), 0x86dd), "ipv6 first: {ipv6_first}");
        }
        // Both zero: an address is still there (the record's own).
        let mut rec = FlowRecord::default();
        apply(Target::NextHop, &[0; 4], &mut rec, &mut Scratch::default());
        assert!(!rec.next_hop.is_none() && rec.next_hop.is_unspecified());
    }

    #[test]
    fn sampling_from_packet_interval_and_space_and_physical_interfaces_as_fallback() {
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::SamplingPacketInterval, &[1], &mut rec, &mut s);
        apply(Target::SamplingPacketSpace, &[0, 0, 0x03, 0xe7], &mut rec, &mut s);
        apply(Target::InIfPhysical, &[0, 7], &mut rec, &mut s);
        apply(Target::OutIfPhysical, &[0, 8], &mut rec, &mut s);
        apply(Target::OutIf, &[0, 3], &mut rec, &mut s);
        finish(&mut rec, &s, &Clock::default(), 0);
        assert_eq!((rec.sampling_rate, rec.in_if, rec.out_if), (1000, 7, 3));
        assert_eq!(target_for(0, 252, 4), Target::InIfPhysical);
        assert_eq!(target_for(0, 306, 4), Target::SamplingPacketSpace);
    }

    #[test]
    fn a_relative_time_past_the_clock_saturates() {
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::StartUptimeMs, &u32::MAX.to_be_bytes(), &mut rec, &mut s);
        finish(&mut rec, &s, &Clock { export_ns: 0, uptime_ms: None, sys_init_ms: u64::MAX - 1 }, 0);
        assert_eq!(rec.time_flow_start_ns, u64::MAX);
    }

    #[test]
    fn a_data_link_frame_section_is_read_as_a_sampled_frame() {
        // Ethernet (VLAN 42), IPv4 192.0.2.1 -> 198.51.100.2, TCP 443 -> 50000 (SYN).
        let mut frame = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 42, 0x08, 0x00];
        frame.extend_from_slice(&[0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2]);
        frame.extend_from_slice(&[0x01, 0xbb, 0xc3, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(target_for(0, 315, VARIABLE_LENGTH), Target::DataLinkFrame);
        assert_eq!(target_for(0, 315, 128), Target::DataLinkFrame);
        assert_eq!(target_for(0, 312, 2), Target::BytesFallback);
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::DataLinkFrame, &frame, &mut rec, &mut s);
        apply(Target::BytesFallback, &[0, 74], &mut rec, &mut s);
        finish(&mut rec, &s, &Clock::default(), 0);
        assert_eq!((rec.src_addr, rec.dst_addr), (Addr::v4([192, 0, 2, 1]), Addr::v4([198, 51, 100, 2])));
        assert_eq!((rec.proto, rec.src_port, rec.dst_port, rec.etype), (6, 443, 50000, 0x0800));
        assert_eq!((rec.vlan_id, rec.src_mac, rec.tcp_flags), (42, 0x0607_0809_0a0b, 0x02));
        assert_eq!((rec.bytes, rec.packets), (74, 1));
    }

    #[test]
    fn ntp_timestamps_convert_to_unix_nanoseconds() {
        let v = ((NTP_UNIX_OFFSET + 1) << 32) | 0x8000_0000;
        assert_eq!(ntp_to_unix_ns(v), 1_500_000_000);
        assert_eq!(ntp_to_unix_ns(0), 0);
    }

    #[test]
    fn icmp_type_code_and_mpls_labels_split_their_bits() {
        let mut rec = FlowRecord::default();
        let mut s = Scratch::default();
        apply(Target::IcmpTypeCode, &[0x08, 0x00], &mut rec, &mut s);
        assert_eq!((rec.icmp_type, rec.icmp_code), (8, 0));
        for _ in 0..5 {
            apply(Target::MplsLabel, &[0x00, 0x01, 0x41], &mut rec, &mut s);
        }
        assert_eq!(rec.mpls_label.as_slice(), &[20, 20, 20, 20]);
        assert!(s.truncated);
        apply(Target::IpVersion, &[6], &mut rec, &mut s);
        assert_eq!(rec.etype, 0x86dd);
        apply(Target::BytesFallback, &[9], &mut rec, &mut s);
        apply(Target::Bytes, &[0, 3], &mut rec, &mut s);
        apply(Target::BytesFallback, &[9], &mut rec, &mut s);
        assert_eq!(rec.bytes, 3);
    }
}
