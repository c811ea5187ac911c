//! LEB128 unsigned integers: protobuf's varints, and the lengths of ClickHouse `RowBinary` / `Native`
//! strings and arrays — one encoding, written and read here for every encoder.

/// Writes `v` into `buf`; returns how many bytes it took.
#[inline]
pub(crate) fn write_into(mut v: u64, buf: &mut [u8; 10]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    i + 1
}

/// Appends `v` to `out`.
#[inline]
pub(crate) fn write(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        return out.push(v as u8); // the common case: small counts, lengths, field keys
    }
    let mut buf = [0u8; 10];
    let n = write_into(v, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// How many bytes `v` takes.
pub(crate) fn len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The value at the start of `b` (at most 10 bytes) and how many bytes it took; `None` when `b` ends
/// first or the value does not fit 64 bits.
pub(crate) fn read(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && bits > 1 {
            return None;
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The length (or count) at `at` of `buf`, as ClickHouse writes it before a string or an array, and
/// how many bytes it took; `None` when `buf` ends first or the value does not fit a `usize`.
#[inline(always)]
pub(crate) fn length(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    // Labels and lists are short: a one-byte length is the rule.
    match buf.get(at..)? {
        [n, ..] if *n < 0x80 => Some((usize::from(*n), 1)),
        tail => {
            let (len, header) = read(tail)?;
            Some((usize::try_from(len).ok()?, header))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_writes_and_reads_agree() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut buf = [0u8; 10];
            let n = write_into(v, &mut buf);
            assert_eq!(n, len(v), "{v}");
            assert_eq!(read(&buf[..n]), Some((v, n)), "{v}");
            assert_eq!(read(&buf[..n - 1]), None, "{v} cut short");
        }
        let mut out = Vec::new();
        write(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(read(&[0xff; 10]), None, "more than 64 bits");
    }
}
