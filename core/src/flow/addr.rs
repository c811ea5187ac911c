//! A copyable network address that may be absent, shaped like protobuf `bytes` (0, 4 or 16 bytes).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 or IPv6 address, or none. `Copy`, 17 bytes, and a byte-exact image of goflow2's address
/// fields (empty, 4-byte or 16-byte `bytes`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Addr {
    octets: [u8; 16],
    len: u8,
}

impl Addr {
    /// No address.
    pub const NONE: Addr = Addr { octets: [0; 16], len: 0 };

    /// An IPv4 address from its four octets.
    pub const fn v4(o: [u8; 4]) -> Addr {
        // Built as one 128-bit value: a single wide store rather than four narrow ones.
        Addr { octets: (u32::from_le_bytes(o) as u128).to_le_bytes(), len: 4 }
    }

    /// An IPv6 address from its sixteen octets.
    pub const fn v6(octets: [u8; 16]) -> Addr {
        Addr { octets, len: 16 }
    }

    /// An address from 0, 4 or 16 bytes; `None` for any other length.
    pub fn from_slice(b: &[u8]) -> Option<Addr> {
        match b.len() {
            0 => Some(Addr::NONE),
            4 => Some(Addr::v4([b[0], b[1], b[2], b[3]])),
            16 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(b);
                Some(Addr::v6(o))
            }
            _ => None,
        }
    }

    /// The address bytes: empty, 4 or 16 long.
    pub fn as_bytes(&self) -> &[u8] {
        &self.octets[..usize::from(self.len)]
    }

    /// Whether no address is set.
    pub const fn is_none(&self) -> bool {
        self.len == 0
    }

    /// The EtherType of the address's family: 0x0800 for IPv4, 0x86dd for IPv6, 0 when absent.
    pub const fn etype(&self) -> u16 {
        match self.len {
            4 => 0x0800,
            16 => 0x86dd,
            _ => 0,
        }
    }

    /// Whether the address is absent or all zeros (`0.0.0.0`, `::`).
    pub const fn is_unspecified(&self) -> bool {
        u128::from_le_bytes(self.octets) == 0
    }

    /// The address as a standard library value, `None` when absent.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.len {
            4 => Some(IpAddr::V4(Ipv4Addr::new(self.octets[0], self.octets[1], self.octets[2], self.octets[3]))),
            16 => Some(IpAddr::V6(Ipv6Addr::from(self.octets))),
            _ => None,
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::v4(v4.octets()),
            IpAddr::V6(v6) => Addr::v6(v6.octets()),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("<none>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_slice_accepts_only_protobuf_address_lengths() {
        assert_eq!(Addr::from_slice(&[]), Some(Addr::NONE));
        assert_eq!(Addr::from_slice(&[10, 0, 0, 1]).map(|a| a.to_string()), Some("10.0.0.1".into()));
        assert_eq!(Addr::from_slice(&[0; 5]), None);
        let v6 = Addr::from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).expect("16 bytes");
        assert_eq!(v6.to_string(), "2001:db8::1");
        assert_eq!(v6.as_bytes().len(), 16);
        assert!(Addr::NONE.is_none());
        assert_eq!(format!("{:?}", Addr::NONE), "<none>");
    }
}
