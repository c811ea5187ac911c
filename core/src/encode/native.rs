//! ClickHouse `Native` blocks of `flows_raw`, transposed from the `RowBinary` rows of
//! [`super::rowbinary`].
//!
//! ClickHouse reads a `Native` block a column at a time instead of a value at a time: for this table
//! it ingests 1.5× more rows per second of its CPU than from `RowBinary` (712K vs 475K rows/s with
//! the materialized views, chdb 26.9, `perf/clickhouse_insert.py`). The rows stay the one place where
//! a flow maps onto columns; this module only regroups their bytes, column by column, with the
//! layout each column's type has in [`FLOW_COLUMNS`].
//! The rows go out in `flows_raw`'s key order ([`super::block_order`]), which spares ClickHouse
//! sorting the block.

use super::block_order::BlockOrder;
use super::leb128::length;
use super::rowbinary::{FLOW_COLUMNS, Layout, Row};
use crate::error::{Error, Reason, Result};

/// Regroups `RowBinary` rows into `Native` blocks. Keeps its buffers between blocks, so a warmed-up
/// encoder allocates only the block it returns; every value is copied once, from the rows into its
/// place in the block.
#[derive(Debug)]
pub struct NativeEncoder {
    /// The leading fixed-width columns: (offset in the row, width) of each.
    prefix: Vec<(usize, usize)>,
    /// Their total width: where each row's variable part starts.
    prefix_len: usize,
    /// Where each row starts, in the rows' order, then (for the gather) in key order.
    starts: Vec<usize>,
    /// Where each row starts, in the rows' order, while the key order is worked out.
    arrival: Vec<usize>,
    /// The rows' order under `flows_raw`'s sorting key.
    order: BlockOrder,
    /// Offsets in a row of `time_received` and `sampler_address`, and the index among the columns
    /// after the prefix of `exporter_device`: the sorting key's parts.
    key: (usize, usize, usize),
    /// Per column after the fixed-width prefix: bytes of its values (for arrays, of the cumulative
    /// offsets) and of its elements (arrays only), known after the first pass over the rows.
    sizes: Vec<(usize, usize)>,
    /// Per column after the prefix: where its next value and its next element go in the block.
    cursors: Vec<Cursor>,
}

/// Where a column after the prefix is being written: values and elements, each up to its end.
#[derive(Debug, Clone, Default)]
struct Cursor {
    value: usize,
    value_end: usize,
    element: usize,
    element_end: usize,
    /// For arrays: elements so far (the next cumulative offset).
    total: u64,
}

impl Default for NativeEncoder {
    fn default() -> Self {
        NativeEncoder::new()
    }
}

impl NativeEncoder {
    /// An encoder with empty buffers.
    pub fn new() -> NativeEncoder {
        // Every row starts with the same fixed-width columns, at the same offsets.
        let widths = FLOW_COLUMNS.iter().map_while(|c| match c.layout {
            Layout::Fixed(w) => Some(usize::from(w)),
            Layout::String | Layout::ArrayU32 => None,
        });
        let mut prefix_len = 0;
        let prefix: Vec<_> = widths
            .map(|w| {
                prefix_len += w;
                (prefix_len - w, w)
            })
            .collect();
        let rest = FLOW_COLUMNS.len() - prefix.len();
        let position = |name| FLOW_COLUMNS.iter().position(|c| c.name == name).unwrap_or_default();
        let offset = |name| prefix.get(position(name)).map_or(0, |&(offset, _)| offset);
        let key = (
            offset("time_received"),
            offset("sampler_address"),
            position("exporter_device").saturating_sub(prefix.len()),
        );
        NativeEncoder {
            prefix,
            prefix_len,
            starts: Vec::new(),
            arrival: Vec::new(),
            order: BlockOrder::default(),
            key,
            sizes: vec![(0, 0); rest],
            cursors: vec![Cursor::default(); rest],
        }
    }

    /// Appends to `out` the `Native` block of the `rows` (`RowBinary` rows of [`FLOW_COLUMNS`], as
    /// [`super::rowbinary::write_row`] writes them). Fails, leaving `out` as it was, when `rows` does
    /// not hold whole rows.
    pub fn encode(&mut self, rows: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.split(rows)?;
        let n = self.starts.len();
        let rest_bytes: usize = self.sizes.iter().map(|(v, e)| v + e).sum();
        out.reserve(n * self.prefix_len + rest_bytes + 4096);
        Row(out).len(FLOW_COLUMNS.len());
        Row(out).len(n);
        let (head, tail) = FLOW_COLUMNS.split_at(self.prefix.len());
        // Every column's region of `out` is laid out first (header, then room for its data), then
        // filled. The prefix columns come straight from the rows (fixed offsets and widths), a chunk
        // of rows at a time, so that the rows being read stay in cache however large the block.
        let mut regions = Vec::with_capacity(head.len());
        for (column, &(offset, width)) in head.iter().zip(&self.prefix) {
            Row(out).str(column.name);
            Row(out).str(column.ty);
            regions.push((out.len(), offset, width));
            out.resize(out.len() + n * width, 0);
        }
        for ((column, &(values, elements)), cursor) in tail.iter().zip(&self.sizes).zip(&mut self.cursors) {
            Row(out).str(column.name);
            Row(out).str(column.ty);
            let at = out.len();
            *cursor = Cursor {
                value: at,
                value_end: at + values,
                element: at + values,
                element_end: at + values + elements,
                total: 0,
            };
            out.resize(at + values + elements, 0);
        }
        for (c, chunk) in self.starts.chunks(CHUNK_ROWS).enumerate() {
            let first = c * CHUNK_ROWS;
            for &(region, offset, width) in &regions {
                let dst =
                    out.get_mut(region + first * width..region + (first + chunk.len()) * width).unwrap_or_default();
                match width {
                    1 => gather::<1>(rows, chunk, offset, dst),
                    2 => gather::<2>(rows, chunk, offset, dst),
                    4 => gather::<4>(rows, chunk, offset, dst),
                    8 => gather::<8>(rows, chunk, offset, dst),
                    _ => gather::<16>(rows, chunk, offset, dst),
                }
            }
        }
        // The other columns, row by row in key order, each value into its column's next place.
        for &row in &self.starts {
            let mut at = row + self.prefix_len;
            for (column, cursor) in tail.iter().zip(&mut self.cursors) {
                // Whole rows were checked by `split`.
                let Some((start, end)) = value(rows, at, column.layout) else { break };
                match column.layout {
                    Layout::Fixed(_) | Layout::String => {
                        cursor.value = put(rows, at, end - at, out, cursor.value, cursor.value_end);
                    }
                    Layout::ArrayU32 => {
                        cursor.total += ((end - start) / 4) as u64;
                        let total = cursor.total.to_le_bytes();
                        cursor.value = put(&total, 0, 8, out, cursor.value, cursor.value_end);
                        cursor.element = put(rows, start, end - start, out, cursor.element, cursor.element_end);
                    }
                }
                at = end;
            }
        }
        Ok(())
    }

    /// Finds where each row starts, checking that `rows` holds whole rows, puts the rows in key order
    /// (`starts`), and sums the bytes of each column after the prefix.
    fn split(&mut self, rows: &[u8]) -> Result<()> {
        let rest = &FLOW_COLUMNS[self.prefix.len()..];
        let truncated = |offset| Error::RowBinary { reason: Reason::Truncated, offset };
        let (time_at, exporter_at, device) = self.key;
        self.arrival.clear();
        self.order.clear();
        self.sizes.iter_mut().for_each(|s| *s = (0, 0));
        let mut at = 0;
        while at < rows.len() {
            self.arrival.push(at);
            let time = rows.get(at + time_at..).and_then(<[u8]>::first_chunk::<8>).ok_or(truncated(at))?;
            let exporter = rows.get(at + exporter_at..).and_then(<[u8]>::first_chunk::<16>).ok_or(truncated(at))?;
            let first_of_group = self.order.add(u64::from_le_bytes(*time), *exporter);
            at += self.prefix_len;
            for ((i, column), size) in rest.iter().enumerate().zip(&mut self.sizes) {
                let (start, end) = value(rows, at, column.layout).ok_or(truncated(at))?;
                if let Some(group) = first_of_group.filter(|_| i == device) {
                    self.order.set_device(group, start..end);
                }
                match column.layout {
                    Layout::Fixed(_) | Layout::String => size.0 += end - at,
                    Layout::ArrayU32 => *size = (size.0 + 8, size.1 + (end - start)),
                }
                at = end;
            }
        }
        self.starts.clear();
        let arrival = &self.arrival;
        self.starts.extend(self.order.order(rows).iter().filter_map(|&row| arrival.get(row as usize).copied()));
        Ok(())
    }
}

/// Where the value of a `layout` column that starts at `at` has its content (after a length) and
/// where it ends; `None` past the rows.
#[inline(always)]
fn value(rows: &[u8], at: usize, layout: Layout) -> Option<(usize, usize)> {
    let (start, len) = match layout {
        Layout::Fixed(width) => (at, usize::from(width)),
        Layout::String => length(rows, at).map(|(len, header)| (at + header, len))?,
        Layout::ArrayU32 => length(rows, at).and_then(|(count, header)| Some((at + header, count.checked_mul(4)?)))?,
    };
    let end = start.checked_add(len)?;
    (end <= rows.len()).then_some((start, end))
}

/// Appends `rows[at..at + n]` to `out`; the end, or `None` past the rows. Values of up to 16 bytes —
/// nearly every label — are copied as one 16-byte load when the rows go on that far, then cut back:
/// a fixed-size copy instead of a call to `memcpy` per value.
#[inline(always)]
pub(crate) fn copy(rows: &[u8], at: usize, n: usize, out: &mut Vec<u8>) -> Option<usize> {
    let end = at.checked_add(n)?;
    match rows.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        Some(wide) if n <= 16 => {
            let keep = out.len() + n;
            out.extend_from_slice(wide);
            out.truncate(keep);
        }
        _ => out.extend_from_slice(rows.get(at..end)?),
    }
    Some(end)
}

/// Copies `rows[at..at + n]` into `out[to..]`, never past `limit` (the end of the column's region);
/// returns where the next value goes. Values of up to 16 bytes are copied as one 16-byte store when
/// the region has room for it: the bytes past the value are overwritten by the column's next value,
/// and the region's last value is copied exactly.
#[inline(always)]
fn put(rows: &[u8], at: usize, n: usize, out: &mut [u8], to: usize, limit: usize) -> usize {
    let end = to + n;
    if n <= 16
        && to + 16 <= limit
        && let (Some(wide), Some(dst)) = (rows.get(at..).and_then(<[u8]>::first_chunk::<16>), out.get_mut(to..to + 16))
    {
        dst.copy_from_slice(wide);
        return end;
    }
    if let (Some(src), Some(dst)) = (rows.get(at..at + n), out.get_mut(to..end.min(limit)))
        && src.len() == dst.len()
    {
        dst.copy_from_slice(src);
    }
    end
}

const CHUNK_ROWS: usize = 512;

/// Writes into `dst` the `W`-byte value at `offset` of each row (rows start at `starts`).
fn gather<const W: usize>(rows: &[u8], starts: &[usize], offset: usize, dst: &mut [u8]) {
    for (d, &s) in dst.chunks_exact_mut(W).zip(starts) {
        // In bounds: `split` checked every row; a miss would leave zeros, never read past the rows.
        if let Some(v) = rows.get(s + offset..).and_then(<[u8]>::first_chunk::<W>) {
            d.copy_from_slice(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::native_columns::NativeColumns;
    use crate::encode::rowbinary::write_row;
    use crate::enrich::enricher::Enriched;
    use crate::enrich::published::Snapshot;
    use crate::flow::{Addr, FlowLists, FlowRecord, FlowType};

    /// Reads a `Native` block back (checking names and types) into (name, type, column bytes) triples.
    fn columns(block: &[u8]) -> (usize, Vec<(String, String, Vec<u8>)>) {
        let mut read = NativeColumns::default();
        read.read(block).expect("a whole block of our columns");
        let columns = FLOW_COLUMNS.iter().enumerate().map(|(i, column)| {
            let span = read.span(i).expect("a span per column");
            let bytes = [&block[span.values.clone()], &block[span.elements.clone()]].concat();
            (column.name.to_owned(), column.ty.to_owned(), bytes)
        });
        (read.rows(), columns.collect())
    }

    #[test]
    fn rows_become_columns_with_names_types_offsets_and_elements() {
        let mut rows = Vec::new();
        let snapshot = Snapshot::default();
        for (i, path) in [vec![65000u32, 65001], vec![], vec![7]].into_iter().enumerate() {
            let rec = FlowRecord {
                flow_type: FlowType::Ipfix,
                time_received_ns: 1_000 + i as u64,
                src_addr: Addr::v4([10, 0, 0, i as u8]),
                ..FlowRecord::default()
            };
            let mut lists = FlowLists::EMPTY;
            for asn in path {
                lists.as_path.push(asn);
            }
            write_row(&rec, &lists, &Enriched::default(), &snapshot, &mut rows);
        }
        let mut block = vec![0xee]; // appended after what is there
        NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
        let (nrows, cols) = columns(&block[1..]);
        assert_eq!(nrows, 3);
        assert_eq!(cols.len(), FLOW_COLUMNS.len());
        let col = |name: &str| cols.iter().find(|c| c.0 == name).expect("column");
        assert_eq!(col("time_received").1, "DateTime64(9, 'UTC')");
        let times: Vec<u8> = [1000i64, 1001, 1002].iter().flat_map(|t| t.to_le_bytes()).collect();
        assert_eq!(col("time_received").2, times);
        assert_eq!(col("src_addr").2[16 * 2 + 12..16 * 3], [10, 0, 0, 2]);
        let mut as_path: Vec<u8> = [2u64, 2, 3].iter().flat_map(|o| o.to_le_bytes()).collect();
        as_path.extend([65000u32, 65001, 7].iter().flat_map(|a| a.to_le_bytes()));
        assert_eq!(col("as_path").2, as_path);
        assert_eq!(col("exporter_device").2, [0, 0, 0], "three empty strings");
    }

    #[test]
    fn blocks_of_many_chunks_keep_every_row_in_place() {
        let n = CHUNK_ROWS * 3 + 7;
        let mut rows = Vec::new();
        for i in 0..n as u64 {
            let rec = FlowRecord { time_received_ns: i, dst_port: i as u16, ..FlowRecord::default() };
            write_row(&rec, &FlowLists::EMPTY, &Enriched::default(), &Snapshot::default(), &mut rows);
        }
        let mut block = Vec::new();
        NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
        let (nrows, cols) = columns(&block);
        assert_eq!(nrows, n);
        let col = |name: &str| cols.iter().find(|c| c.0 == name).expect("column").2.clone();
        let times: Vec<u8> = (0..n as i64).flat_map(i64::to_le_bytes).collect();
        assert_eq!(col("time_received"), times);
        let ports: Vec<u8> = (0..n as u64).flat_map(|i| (i as u16).to_le_bytes()).collect();
        assert_eq!(col("dst_port"), ports);
    }

    #[test]
    fn blocks_go_out_in_the_tables_key_order() {
        // (minute, exporter) per row, in arrival order; no device names (no NetBox): by minute, then
        // exporter address, arrival order within.
        let arrivals = [(1u64, 9u8), (0, 7), (1, 3), (0, 7), (1, 9), (0, 2)];
        let mut rows = Vec::new();
        for (i, &(minute, exporter)) in arrivals.iter().enumerate() {
            let rec = FlowRecord {
                time_received_ns: minute * 60_000_000_000 + i as u64,
                sampler_address: Addr::v4([192, 0, 2, exporter]),
                dst_port: i as u16,
                ..FlowRecord::default()
            };
            write_row(&rec, &FlowLists::EMPTY, &Enriched::default(), &Snapshot::default(), &mut rows);
        }
        let mut block = Vec::new();
        NativeEncoder::new().encode(&rows, &mut block).expect("whole rows");
        let (_, cols) = columns(&block);
        let col = |name: &str| cols.iter().find(|c| c.0 == name).expect("column").2.clone();
        let ports: Vec<u16> = col("dst_port").chunks(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
        assert_eq!(ports, [5, 1, 3, 2, 0, 4]);
        let exporters: Vec<u8> = col("sampler_address").chunks(16).map(|a| a[15]).collect();
        assert_eq!(exporters, [2, 7, 7, 3, 9, 9]);
    }

    #[test]
    fn values_are_copied_alike_near_the_end_of_the_rows_and_far_from_it() {
        let rows: Vec<u8> = (0..40).collect();
        for at in 0..40 {
            for n in 0..=40 - at {
                let mut out = vec![0xee];
                assert_eq!(copy(&rows, at, n, &mut out), Some(at + n));
                assert_eq!(out[1..], rows[at..at + n], "at {at}, {n} bytes");
            }
            assert_eq!(copy(&rows, at, 41 - at, &mut Vec::new()), None, "one byte past the end");
        }
        assert_eq!(copy(&rows, 1, usize::MAX, &mut Vec::new()), None, "no overflow");
    }

    #[test]
    fn values_are_put_whole_and_never_past_their_region() {
        let rows: Vec<u8> = (1..=40).collect();
        for limit in [8, 20, 39] {
            for to in 0..=limit {
                for n in 0..=(limit - to).min(20) {
                    let mut out = vec![0u8; 41];
                    assert_eq!(put(&rows, 3, n, &mut out, to, limit), to + n);
                    assert_eq!(out[to..to + n], rows[3..3 + n], "to {to}, {n} bytes");
                    assert!(out[limit..].iter().all(|&b| b == 0), "nothing past {limit} (to {to}, {n} bytes)");
                }
            }
        }
    }

    #[test]
    fn partial_rows_are_refused_and_nothing_is_written() {
        let mut rows = Vec::new();
        write_row(&FlowRecord::default(), &FlowLists::EMPTY, &Enriched::default(), &Snapshot::default(), &mut rows);
        let mut enc = NativeEncoder::new();
        for cut in [1, 100, rows.len() - 1] {
            let mut out = Vec::new();
            let err = enc.encode(&rows[..cut], &mut out).expect_err("partial row");
            assert_eq!(err.reason(), Reason::Truncated);
            assert!(out.is_empty());
        }
        let mut out = Vec::new();
        enc.encode(&[], &mut out).expect("no rows is an empty block");
        assert_eq!(columns(&out).0, 0);
    }
}
