//! Raw packet headers: Ethernet, 802.1Q / 802.1ad, MPLS, IPv4, IPv6 (hop-by-hop, destination options,
//! routing incl. SRv6, fragment headers), TCP, UDP, ICMP, ICMPv6, GRE.
//!
//! Used for sFlow's sampled headers and for reading UDP payloads out of pcap captures. Fields land in a
//! [`FlowRecord`] the way goflow2 fills them; the walk stops quietly wherever the header is cut.

use super::reader::Reader;
use crate::flow::{Addr, FlowLists, FlowRecord, Layer};

/// What the first byte of `data` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// An Ethernet II frame.
    Ethernet,
    /// An IPv4 packet.
    Ipv4,
    /// An IPv6 packet.
    Ipv6,
    /// An IP packet of either version (told by its first nibble).
    Ip,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
/// Bound on stacked headers (VLAN tags, MPLS labels, IPv6 extension headers) walked per packet.
const MAX_STACK: usize = 16;

/// Parses the headers of `data` into `rec` (MACs, VLAN, MPLS labels, addresses, TTL, TOS, ports,
/// flags, ICMP, layer stack) and `lists` (MPLS TTLs, SRv6 segments: created only when the packet has
/// any), and returns the UDP payload when the packet is an unfragmented UDP datagram (bounded by the UDP
/// length field), else an empty slice.
pub fn parse<'a>(data: &'a [u8], link: LinkType, rec: &mut FlowRecord, lists: &mut Option<FlowLists>) -> &'a [u8] {
    let mut h = Headers { rec, lists };
    let mut rd = Reader::new(data);
    let l3 = match link {
        LinkType::Ethernet => ethernet(&mut rd, &mut h),
        LinkType::Ipv4 => Some(ETH_IPV4),
        LinkType::Ipv6 => Some(ETH_IPV6),
        LinkType::Ip => ip_version(&rd),
    };
    let l4 = match l3 {
        Some(ETH_IPV4) => ipv4(&mut rd, &mut h),
        Some(ETH_IPV6) => ipv6(&mut rd, &mut h),
        _ => None,
    };
    match l4 {
        Some(proto) => transport(&mut rd, proto, &mut h),
        None => &[],
    }
}

/// Where parsed header fields go.
struct Headers<'r> {
    rec: &'r mut FlowRecord,
    lists: &'r mut Option<FlowLists>,
}

impl Headers<'_> {
    fn layer(&mut self, l: Layer) {
        self.rec.layer_stack.push(l);
    }

    fn lists(&mut self) -> &mut FlowLists {
        self.lists.get_or_insert(FlowLists::EMPTY)
    }
}

fn ip_version(rd: &Reader<'_>) -> Option<u16> {
    match rd.rest().first()? >> 4 {
        4 => Some(ETH_IPV4),
        6 => Some(ETH_IPV6),
        _ => None,
    }
}

/// Ethernet, VLAN tags and MPLS labels; returns the ethertype of the L3 header that follows.
fn ethernet(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u16> {
    let etype = ethernet_header(rd, h)?;
    h.rec.etype = etype;
    match etype {
        ETH_MPLS | ETH_MPLS_MC => mpls(rd, h),
        _ => Some(etype),
    }
}

/// An Ethernet header and its VLAN tags (MACs, the outer VLAN id); returns the ethertype after the
/// tags.
#[inline(always)]
fn ethernet_header(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u16> {
    let e: [u8; 14] = rd.array()?;
    h.rec.dst_mac = mac([e[0], e[1], e[2], e[3], e[4], e[5]]);
    h.rec.src_mac = mac([e[6], e[7], e[8], e[9], e[10], e[11]]);
    h.layer(Layer::Ethernet);
    let mut etype = u16::from_be_bytes([e[12], e[13]]);
    for _ in 0..MAX_STACK {
        if !matches!(etype, ETH_VLAN | ETH_QINQ) {
            break;
        }
        let tci = rd.u16()?;
        if h.rec.vlan_id == 0 {
            h.rec.vlan_id = tci & 0x0fff;
        }
        h.layer(Layer::Dot1Q);
        etype = rd.u16()?;
    }
    Some(etype)
}

fn mpls(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u16> {
    h.layer(Layer::Mpls);
    for _ in 0..MAX_STACK {
        let entry = rd.u32()?;
        h.rec.mpls_label.push(entry >> 12);
        h.lists().mpls_ttl.push((entry & 0xff) as u8);
        if entry & 0x100 != 0 {
            if rd.rest().first().is_some_and(|b| b >> 4 == 0) {
                return carried_frame(rd, h);
            }
            let next = ip_version(rd);
            if let Some(e) = next {
                h.rec.etype = e;
            }
            return next;
        }
    }
    None
}

/// After the bottom MPLS label, a pseudowire control word (first nibble 0, RFC 4385) and the Ethernet
/// frame it carries (EoMPLS): the frame's MACs, VLAN tags and the ethertype of what follows. An MPLS
/// stack inside the carried frame ends the walk (one level only, and no recursion on the hot path).
#[cold]
#[inline(never)]
fn carried_frame(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u16> {
    rd.skip(4)?;
    let etype = ethernet_header(rd, h)?;
    if matches!(etype, ETH_MPLS | ETH_MPLS_MC) {
        return None;
    }
    h.rec.etype = etype;
    Some(etype)
}

fn ipv4(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u8> {
    let p: [u8; 20] = rd.array()?;
    h.rec.etype = ETH_IPV4;
    h.layer(Layer::IPv4);
    h.rec.ip_tos = p[1];
    h.rec.fragment_id = u32::from(u16::from_be_bytes([p[4], p[5]]));
    let flags_frag = u16::from_be_bytes([p[6], p[7]]);
    h.rec.ip_flags = (flags_frag >> 13) as u8;
    h.rec.fragment_offset = flags_frag & 0x1fff;
    h.rec.ip_ttl = p[8];
    h.rec.proto = p[9];
    h.rec.src_addr = Addr::v4([p[12], p[13], p[14], p[15]]);
    h.rec.dst_addr = Addr::v4([p[16], p[17], p[18], p[19]]);
    // Options, if the header is longer than its fixed 20 bytes.
    rd.skip((usize::from(p[0] & 0x0f) * 4).saturating_sub(20))?;
    (h.rec.fragment_offset == 0).then_some(p[9])
}

fn ipv6(rd: &mut Reader<'_>, h: &mut Headers<'_>) -> Option<u8> {
    let p: [u8; 40] = rd.array()?;
    let vtcfl = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    h.rec.etype = ETH_IPV6;
    h.layer(Layer::IPv6);
    h.rec.ip_tos = (vtcfl >> 20) as u8;
    h.rec.ipv6_flow_label = vtcfl & 0x000f_ffff;
    let mut next = p[6];
    h.rec.ip_ttl = p[7];
    h.rec.src_addr = Addr::from_slice(&p[8..24]).unwrap_or_default();
    h.rec.dst_addr = Addr::from_slice(&p[24..40]).unwrap_or_default();
    h.rec.proto = next;
    for _ in 0..MAX_STACK {
        match next {
            // Hop-by-hop, destination options: skip.
            0 | 60 => {
                next = rd.u8()?;
                let len = usize::from(rd.u8()?) * 8 + 6;
                rd.skip(len)?;
            }
            43 => {
                h.layer(Layer::IPv6HeaderRouting);
                next = rd.u8()?;
                let ext_len = usize::from(rd.u8()?) * 8;
                let routing_type = rd.u8()?;
                let seg_left = rd.u8()?;
                let rest = rd.take(ext_len + 4)?;
                if routing_type == 4 {
                    // SRv6 segment routing header (RFC 8754): 4 more header bytes, then segments.
                    h.rec.ipv6_routing_header_seg_left = seg_left;
                    for seg in rest.get(4..).unwrap_or(&[]).chunks_exact(16) {
                        h.lists().ipv6_routing_header_addresses.push(Addr::from_slice(seg).unwrap_or_default());
                    }
                }
            }
            44 => {
                h.layer(Layer::IPv6HeaderFragment);
                next = rd.u8()?;
                rd.skip(1)?;
                let off = rd.u16()?;
                h.rec.fragment_offset = off >> 3;
                h.rec.fragment_id = rd.u32()?;
                if h.rec.fragment_offset != 0 {
                    h.rec.proto = next;
                    return None;
                }
            }
            _ => break,
        }
        h.rec.proto = next;
    }
    Some(next)
}

fn transport<'a>(rd: &mut Reader<'a>, proto: u8, h: &mut Headers<'_>) -> &'a [u8] {
    let parsed = (|| match proto {
        6 => {
            h.layer(Layer::Tcp);
            let t: [u8; 14] = rd.array()?;
            h.rec.src_port = u16::from_be_bytes([t[0], t[1]]);
            h.rec.dst_port = u16::from_be_bytes([t[2], t[3]]);
            h.rec.tcp_flags = u16::from(t[13]);
            None
        }
        17 => {
            h.layer(Layer::Udp);
            let u: [u8; 8] = rd.array()?;
            h.rec.src_port = u16::from_be_bytes([u[0], u[1]]);
            h.rec.dst_port = u16::from_be_bytes([u[2], u[3]]);
            let len = usize::from(u16::from_be_bytes([u[4], u[5]]));
            let payload = rd.rest();
            Some(payload.get(..len.saturating_sub(8)).unwrap_or(payload))
        }
        1 | 58 => {
            h.layer(if proto == 1 { Layer::Icmp } else { Layer::IcmpV6 });
            h.rec.icmp_type = rd.u8()?;
            h.rec.icmp_code = rd.u8()?;
            None
        }
        47 => {
            h.layer(Layer::Gre);
            None
        }
        _ => None,
    })();
    parsed.unwrap_or(&[])
}

fn mac(b: [u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(etype: u16) -> Vec<u8> {
        let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        f.extend_from_slice(&etype.to_be_bytes());
        f
    }

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0x10, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0x08, 0x07, 0x08, 0x08]);
        p.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn vlan_tagged_ipv4_udp_yields_payload_and_fields() {
        let mut f = eth(ETH_VLAN);
        f.extend_from_slice(&[0x20, 0x64, 0x08, 0x00]);
        f.extend(ipv4_udp(b"hello"));
        f.extend_from_slice(&[0; 4]); // Ethernet padding beyond the UDP length
        let (mut rec, mut lists) = (FlowRecord::default(), None);
        assert_eq!(parse(&f, LinkType::Ethernet, &mut rec, &mut lists), b"hello");
        assert_eq!(rec.vlan_id, 100);
        assert_eq!((rec.src_addr.to_string(), rec.dst_addr.to_string()), ("10.0.0.1".into(), "10.0.0.2".into()));
        assert_eq!((rec.src_port, rec.dst_port, rec.proto, rec.ip_ttl, rec.ip_tos), (2055, 2056, 17, 64, 0x10));
        assert_eq!((rec.ip_flags, rec.fragment_id, rec.etype), (2, 0x1234, 0x0800));
        assert_eq!(rec.src_mac, 0x060708090a0b);
        assert_eq!(
            rec.layer_stack.iter().collect::<Vec<_>>(),
            &[Layer::Ethernet, Layer::Dot1Q, Layer::IPv4, Layer::Udp]
        );
    }

    #[test]
    fn mpls_labels_then_ipv6_tcp() {
        let mut f = eth(ETH_MPLS);
        f.extend_from_slice(&((100u32 << 12) | 0x40).to_be_bytes());
        f.extend_from_slice(&((200u32 << 12) | 0x100 | 0x3f).to_be_bytes());
        f.extend_from_slice(&[0x60, 0x00, 0x00, 0x05, 0, 20, 6, 60]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0, 80, 0x1f, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0]);
        let (mut rec, mut lists) = (FlowRecord::default(), None);
        assert!(parse(&f, LinkType::Ethernet, &mut rec, &mut lists).is_empty());
        assert_eq!(rec.mpls_label.as_slice(), &[100, 200]);
        assert_eq!(lists.unwrap_or_default().mpls_ttl.as_slice(), &[0x40, 0x3f]);
        assert_eq!((rec.etype, rec.proto, rec.src_port, rec.dst_port, rec.tcp_flags), (0x86dd, 6, 80, 8080, 0x12));
        assert_eq!((rec.ipv6_flow_label, rec.ip_ttl), (5, 60));
        assert_eq!(rec.dst_addr.to_string(), "2001:db8::2");
    }

    #[test]
    fn srv6_and_fragment_headers_are_walked() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 43, 64];
        p.extend_from_slice(&[0; 32]);
        // Routing header type 4, two segments (ext len = 4 * 8 bytes), next header = fragment.
        p.extend_from_slice(&[44, 4, 4, 1, 1, 0, 0, 0]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb]);
        // Fragment header: next = ICMPv6, offset 0, id 7.
        p.extend_from_slice(&[58, 0, 0, 0, 0, 0, 0, 7, 128, 0]);
        let (mut rec, mut lists) = (FlowRecord::default(), None);
        parse(&p, LinkType::Ip, &mut rec, &mut lists);
        assert_eq!(rec.ipv6_routing_header_seg_left, 1);
        let srv6 = lists.unwrap_or_default().ipv6_routing_header_addresses;
        assert_eq!(srv6.len(), 2);
        assert_eq!(srv6.as_slice()[1].to_string(), "2001:db8::b");
        assert_eq!((rec.fragment_id, rec.proto, rec.icmp_type), (7, 58, 128));
    }

    #[test]
    fn truncated_or_fragmented_packets_yield_no_payload_and_no_panic() {
        let full = ipv4_udp(b"data");
        for n in 0..full.len() {
            let (mut rec, mut lists) = (FlowRecord::default(), None);
            assert!(parse(&full[..n], LinkType::Ipv4, &mut rec, &mut lists).len() <= 4);
        }
        let mut frag = ipv4_udp(b"data");
        frag[7] = 8; // fragment offset 8
        let (mut rec, mut lists) = (FlowRecord::default(), None);
        assert!(parse(&frag, LinkType::Ipv4, &mut rec, &mut lists).is_empty());
        assert!(parse(&[0x99], LinkType::Ip, &mut rec, &mut lists).is_empty());
    }
}
