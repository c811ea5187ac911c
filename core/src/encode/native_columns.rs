//! Reading a `Native` block of [`FLOW_COLUMNS`] back as column spans, to compute from an insert block
//! what ClickHouse stored (the minute rollup, [`crate::rollup`]) without decoding rows again.
//!
//! The block is checked whole before a span is handed out: the column count, each column's name and
//! type, every string length and every array offset, so that readers of the spans index within them.

use std::ops::Range;

use super::leb128::length;
use super::rowbinary::{FLOW_COLUMNS, Layout};
use crate::error::{Error, Reason, Result};

/// Where one column's data lies in the block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    /// Its values: fixed-width values back to back, or strings (each a LEB128 length and its bytes),
    /// or for arrays the cumulative `UInt64` offsets.
    pub values: Range<usize>,
    /// For arrays, all the elements (`UInt32`); empty for the other columns.
    pub elements: Range<usize>,
}

/// The spans of a block's columns, in [`FLOW_COLUMNS`] order. Keeps its buffer from block to block.
#[derive(Debug, Default)]
pub struct NativeColumns {
    rows: usize,
    spans: Vec<Span>,
}

impl NativeColumns {
    /// Reads the layout of `block`, a `Native` block of [`FLOW_COLUMNS`] as
    /// [`super::native::NativeEncoder`] writes it. Fails when it is anything else, naming the byte.
    pub fn read(&mut self, block: &[u8]) -> Result<()> {
        self.rows = 0;
        self.spans.clear();
        let bad = |reason, offset| Error::Native { reason, offset };
        let mut at = 0;
        let next = |at: &mut usize| {
            let (n, header) = length(block, *at).ok_or(bad(Reason::Truncated, *at))?;
            *at += header;
            Ok::<_, Error>(n)
        };
        if next(&mut at)? != FLOW_COLUMNS.len() {
            return Err(bad(Reason::BadLength, 0));
        }
        let rows = next(&mut at)?;
        for column in FLOW_COLUMNS {
            for expected in [column.name, column.ty] {
                let (start, n) = (at, next(&mut at)?);
                let end = at.saturating_add(n);
                if block.get(at..end) != Some(expected.as_bytes()) {
                    return Err(bad(Reason::BadLength, start));
                }
                at = end;
            }
            let span = match column.layout {
                Layout::Fixed(width) => {
                    let end = usize::from(width).checked_mul(rows).and_then(|n| n.checked_add(at));
                    Span { values: at..end.ok_or(bad(Reason::BadLength, at))?, elements: 0..0 }
                }
                Layout::String => {
                    let start = at;
                    for _ in 0..rows {
                        at = next(&mut at).map(|n| at.saturating_add(n))?;
                    }
                    Span { values: start..at, elements: 0..0 }
                }
                Layout::ArrayU32 => array(block, at, rows).ok_or(bad(Reason::BadLength, at))?,
            };
            let end = span.values.end.max(span.elements.end);
            if end > block.len() {
                return Err(bad(Reason::Truncated, at));
            }
            at = end;
            self.spans.push(span);
        }
        if at != block.len() {
            return Err(bad(Reason::BadLength, at));
        }
        self.rows = rows;
        Ok(())
    }

    /// Rows in the block last read.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The span of column `index` of [`FLOW_COLUMNS`] in the block last read.
    pub fn span(&self, index: usize) -> Option<&Span> {
        self.spans.get(index)
    }
}

/// The span of an `Array(UInt32)` column of `rows` rows at `at`: offsets that never decrease, and as
/// many elements as the last says; `None` when they do not hold.
fn array(block: &[u8], at: usize, rows: usize) -> Option<Span> {
    let values = at..at.checked_add(rows.checked_mul(8)?)?;
    let mut total = 0u64;
    for offset in block.get(values.clone())?.chunks_exact(8) {
        let offset = u64::from_le_bytes(offset.try_into().ok()?);
        if offset < total {
            return None;
        }
        total = offset;
    }
    let len = usize::try_from(total).ok()?.checked_mul(4)?;
    Some(Span { elements: values.end..values.end.checked_add(len)?, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::native::NativeEncoder;
    use crate::encode::rowbinary::write_row;
    use crate::enrich::enricher::Enriched;
    use crate::enrich::published::Snapshot;
    use crate::flow::{FlowLists, FlowRecord};

    fn block(n: u64) -> Vec<u8> {
        let mut rows = Vec::new();
        for i in 0..n {
            let mut lists = FlowLists::EMPTY;
            lists.as_path.push(i as u32);
            let rec = FlowRecord { time_received_ns: i, ..FlowRecord::default() };
            write_row(&rec, &lists, &Enriched::default(), &Snapshot::default(), &mut rows);
        }
        let mut block = Vec::new();
        NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
        block
    }

    #[test]
    fn spans_cover_each_column_and_the_whole_block() {
        let b = block(3);
        let mut c = NativeColumns::default();
        c.read(&b).expect("our own block");
        assert_eq!(c.rows(), 3);
        let index = |name| FLOW_COLUMNS.iter().position(|c| c.name == name).expect("column");
        let time = c.span(index("time_received")).expect("span").clone();
        assert_eq!(b[time.values], [0i64, 1, 2].iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<_>>());
        let path = c.span(index("as_path")).expect("span").clone();
        assert_eq!(b[path.values], [1u64, 2, 3].iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<_>>());
        assert_eq!(b[path.elements], [0u32, 1, 2].iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<_>>());
        let last = c.span(FLOW_COLUMNS.len() - 1).expect("span");
        assert_eq!(last.values.end, b.len());
        assert!(c.span(FLOW_COLUMNS.len()).is_none());
    }

    #[test]
    fn anything_but_a_whole_block_of_our_columns_is_refused() {
        let b = block(5);
        let mut c = NativeColumns::default();
        for cut in [0, 1, 2, 30, b.len() / 2, b.len() - 1] {
            let err = c.read(&b[..cut]).expect_err("cut short");
            assert!(matches!(err, Error::Native { .. }), "{err}");
            assert_eq!(c.rows(), 0);
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(c.read(&longer).is_err(), "a byte after the last column");
        let mut renamed = b.clone();
        renamed[3] = b'T'; // time_received -> Time_received
        assert!(c.read(&renamed).is_err(), "another column");
        assert!(c.read(&[0x80; 12]).is_err(), "a length past 64 bits");
    }
}
