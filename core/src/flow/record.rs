//! [`FlowRecord`]: one flow, field for field goflow2's `FlowMessage` (`pb/flow.proto`, package `flowpb`),
//! and [`FlowLists`], the repeated fields only some flows carry.

use super::{Addr, Bounded, ExtraRange, LayerStack};

/// Which protocol a record was decoded from (goflow2 `FlowMessage.FlowType`, same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum FlowType {
    /// Unknown origin.
    #[default]
    FlowUnknown = 0,
    /// sFlow version 5.
    Sflow5 = 1,
    /// NetFlow version 5.
    NetflowV5 = 2,
    /// NetFlow version 9.
    NetflowV9 = 3,
    /// IPFIX (NetFlow version 10).
    Ipfix = 4,
}

impl FlowType {
    /// goflow2's enum name (`NETFLOW_V5`, `NETFLOW_V9`, `IPFIX`, `SFLOW_5`, `FLOWUNKNOWN`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowType::FlowUnknown => "FLOWUNKNOWN",
            FlowType::Sflow5 => "SFLOW_5",
            FlowType::NetflowV5 => "NETFLOW_V5",
            FlowType::NetflowV9 => "NETFLOW_V9",
            FlowType::Ipfix => "IPFIX",
        }
    }

    /// From the protobuf enum number; unknown numbers map to [`FlowType::FlowUnknown`].
    pub const fn from_i32(v: i32) -> FlowType {
        match v {
            1 => FlowType::Sflow5,
            2 => FlowType::NetflowV5,
            3 => FlowType::NetflowV9,
            4 => FlowType::Ipfix,
            _ => FlowType::FlowUnknown,
        }
    }
}

/// One layer of a sampled packet's encapsulation (goflow2 `FlowMessage.LayerStack`, same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
#[allow(missing_docs)] // the names are the protocols
pub enum Layer {
    #[default]
    Ethernet = 0,
    IPv4 = 1,
    IPv6 = 2,
    Tcp = 3,
    Udp = 4,
    Mpls = 5,
    Dot1Q = 6,
    Icmp = 7,
    IcmpV6 = 8,
    Gre = 9,
    IPv6HeaderRouting = 10,
    IPv6HeaderFragment = 11,
}

impl Layer {
    /// goflow2's enum name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Ethernet => "Ethernet",
            Layer::IPv4 => "IPv4",
            Layer::IPv6 => "IPv6",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
            Layer::Mpls => "MPLS",
            Layer::Dot1Q => "Dot1Q",
            Layer::Icmp => "ICMP",
            Layer::IcmpV6 => "ICMPv6",
            Layer::Gre => "GRE",
            Layer::IPv6HeaderRouting => "IPv6HeaderRouting",
            Layer::IPv6HeaderFragment => "IPv6HeaderFragment",
        }
    }

    /// From the protobuf enum number.
    pub const fn from_i32(v: i32) -> Option<Layer> {
        Some(match v {
            0 => Layer::Ethernet,
            1 => Layer::IPv4,
            2 => Layer::IPv6,
            3 => Layer::Tcp,
            4 => Layer::Udp,
            5 => Layer::Mpls,
            6 => Layer::Dot1Q,
            7 => Layer::Icmp,
            8 => Layer::IcmpV6,
            9 => Layer::Gre,
            10 => Layer::IPv6HeaderRouting,
            11 => Layer::IPv6HeaderFragment,
            _ => return None,
        })
    }
}

/// One flow. Fixed-size (≤ 256 bytes) and `Copy`: decoders write records in place and nothing is
/// allocated per flow.
///
/// Field names and meanings are goflow2's `FlowMessage`; widths are those of the protocols (a port is
/// a `u16`, a protocol number a `u8`), which keeps the record small enough to move cheaply. The
/// repeated fields that few flows carry (AS path, communities, MPLS TTLs and addresses, SRv6 segments)
/// live in a [`FlowLists`] beside the record, see [`super::Batch::lists`]; MPLS labels, which NetFlow v9
/// and IPFIX carry as plain fields, and the sampled packet's layer stack (packed) stay inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // each field is documented by its goflow2 namesake; see the proto numbers in encode::protobuf
pub struct FlowRecord {
    pub time_received_ns: u64,
    pub sampling_rate: u64,
    pub time_flow_start_ns: u64,
    pub time_flow_end_ns: u64,
    pub bytes: u64,
    pub packets: u64,
    pub src_mac: u64,
    pub dst_mac: u64,
    pub sampler_address: Addr,
    pub src_addr: Addr,
    pub dst_addr: Addr,
    pub next_hop: Addr,
    pub bgp_next_hop: Addr,
    pub sequence_num: u32,
    pub in_if: u32,
    pub out_if: u32,
    pub ipv6_flow_label: u32,
    pub fragment_id: u32,
    pub src_as: u32,
    pub dst_as: u32,
    pub next_hop_as: u32,
    pub observation_domain_id: u32,
    pub observation_point_id: u32,
    pub etype: u16,
    pub src_port: u16,
    pub dst_port: u16,
    pub src_vlan: u16,
    pub dst_vlan: u16,
    pub vlan_id: u16,
    pub fragment_offset: u16,
    pub tcp_flags: u16,
    pub flow_type: FlowType,
    pub proto: u8,
    pub ip_tos: u8,
    pub ip_ttl: u8,
    pub ip_flags: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub src_net: u8,
    pub dst_net: u8,
    pub forwarding_status: u8,
    pub ipv6_routing_header_seg_left: u8,
    pub mpls_label: Bounded<u32, 4>,
    pub layer_stack: LayerStack,
    /// This record's [`FlowLists`] in its batch, if it has any.
    pub lists: ListsRef,
    /// Fields the decoder did not map (enterprise-specific and unmapped IANA elements), when the
    /// decoder keeps them: a range into the batch's extra fields.
    pub extra: ExtraRange,
}

/// Where a record's [`FlowLists`] are in its batch; [`ListsRef::NONE`] when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListsRef(pub(crate) u32);

impl ListsRef {
    /// The record carries no lists.
    pub const NONE: ListsRef = ListsRef(u32::MAX);
}

impl Default for ListsRef {
    fn default() -> Self {
        ListsRef::NONE
    }
}

/// The repeated `FlowMessage` fields that only some flows carry. Bounded inline lists: longer lists
/// are truncated, and the decoder counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // goflow2 FlowMessage field names
pub struct FlowLists {
    pub bgp_communities: Bounded<u32, 8>,
    pub as_path: Bounded<u32, 8>,
    pub mpls_ttl: Bounded<u8, 4>,
    pub mpls_ip: Bounded<Addr, 4>,
    pub ipv6_routing_header_addresses: Bounded<Addr, 4>,
}

impl FlowLists {
    /// No lists.
    pub const EMPTY: FlowLists = FlowLists {
        bgp_communities: Bounded::<u32, 8>::EMPTY,
        as_path: Bounded::<u32, 8>::EMPTY,
        mpls_ttl: Bounded::<u8, 4>::EMPTY,
        mpls_ip: Bounded::<Addr, 4>::EMPTY,
        ipv6_routing_header_addresses: Bounded::<Addr, 4>::EMPTY,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_stays_small_enough_to_move_cheaply() {
        assert!(std::mem::size_of::<FlowRecord>() <= 256, "{}", std::mem::size_of::<FlowRecord>());
    }
}
