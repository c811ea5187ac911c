//! A bounds-checked big-endian reader over a borrowed datagram. Every read either succeeds or returns
//! `None`; nothing here can panic or read out of bounds.

/// Cursor over `bytes`; `pos` is the offset of the next read (reported in errors).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
}

/// Big-endian unsigned integer of 0..=8 bytes (RFC 7011 §6.2 reduced-size encoding); longer input keeps
/// the low-order 8 bytes.
#[inline(always)]
pub(crate) fn be_uint(v: &[u8]) -> u64 {
    match *v {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => u64::from(u32::from_be_bytes([0, a, b, c])),
        [a, b, c, d] => u64::from(u32::from_be_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_return_none_and_do_not_move() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u16(), Some(1));
        assert_eq!(r.u16(), None);
        assert_eq!(r.pos(), 2);
        assert_eq!(r.u8(), Some(2));
        assert_eq!(r.take(usize::MAX), None);
        assert_eq!(r.remaining(), 0);
        assert!(r.rest().is_empty());
        assert_eq!(r.skip(1), None);
        assert_eq!(Reader::new(&[0, 0, 1, 0]).u32(), Some(256));
    }

    #[test]
    fn be_uint_handles_reduced_size_encodings() {
        assert_eq!(be_uint(&[]), 0);
        assert_eq!(be_uint(&[7]), 7);
        assert_eq!(be_uint(&[1, 0]), 256);
        assert_eq!(be_uint(&[1, 0, 0]), 65536);
        assert_eq!(be_uint(&[0, 0, 0, 1]), 1);
        assert_eq!(be_uint(&[0, 0, 0, 0, 0, 1]), 1);
        assert_eq!(be_uint(&[1, 2, 3, 4, 5, 6, 7, 8]), 0x0102030405060708);
        assert_eq!(be_uint(&[9, 1, 2, 3, 4, 5, 6, 7, 8]), 0x0102030405060708);
    }
}
