//! [`Batch`]: the reusable output buffer of the decoders.

use super::{FlowLists, FlowRecord, ListsRef};

/// Where a record's unmapped fields live in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtraRange {
    /// Index of the first [`ExtraField`] in [`Batch::extra_fields`].
    pub start: u32,
    /// Number of fields.
    pub len: u16,
}

/// An information element the decoder did not map onto a [`FlowRecord`] field, kept addressable by
/// (private enterprise number, element id). `pen` is 0 for IANA / NetFlow v9 elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraField {
    /// Private enterprise number (RFC 7011 §3.2), 0 for IANA elements.
    pub pen: u32,
    /// Information element id (without the enterprise bit).
    pub id: u16,
    start: u32,
    len: u32,
}

/// The generic interface counters of an sFlow counter sample (sFlow v5 `counters_sample`, format 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // names follow the sFlow v5 specification's if_counters structure
pub struct InterfaceCounters {
    pub sampler_address: super::Addr,
    pub sequence_num: u32,
    pub source_id: u32,
    pub if_index: u32,
    pub if_type: u32,
    pub if_speed: u64,
    pub if_direction: u32,
    pub if_status: u32,
    pub if_in_octets: u64,
    pub if_in_ucast_pkts: u32,
    pub if_in_multicast_pkts: u32,
    pub if_in_broadcast_pkts: u32,
    pub if_in_discards: u32,
    pub if_in_errors: u32,
    pub if_in_unknown_protos: u32,
    pub if_out_octets: u64,
    pub if_out_ucast_pkts: u32,
    pub if_out_multicast_pkts: u32,
    pub if_out_broadcast_pkts: u32,
    pub if_out_discards: u32,
    pub if_out_errors: u32,
    pub if_promiscuous_mode: u32,
}

/// Decoded output, reused across datagrams: `clear` keeps every buffer's capacity, so a warmed-up
/// batch decodes without allocating. Its capacity in records is fixed at creation; a datagram that
/// would overflow it is rejected with `Reason::BatchFull` rather than grown.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Record slots, kept up to their high-water mark so that a record is written in place.
    records: Vec<FlowRecord>,
    /// Slots in use.
    len: usize,
    lists: Vec<FlowLists>,
    extra_fields: Vec<ExtraField>,
    extra_bytes: Vec<u8>,
    counters: Vec<InterfaceCounters>,
    capacity: usize,
}

impl Batch {
    /// Extra-field bytes kept per record slot, on average, before further extras are dropped.
    const EXTRA_BYTES_PER_RECORD: usize = 512;

    /// A batch that holds up to `capacity` records (and as many counter samples).
    pub fn with_capacity(capacity: usize) -> Batch {
        Batch {
            records: Vec::with_capacity(capacity),
            len: 0,
            lists: Vec::new(),
            extra_fields: Vec::new(),
            extra_bytes: Vec::new(),
            counters: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Forgets every record, keeping the memory.
    pub fn clear(&mut self) {
        self.len = 0;
        self.lists.clear();
        self.extra_fields.clear();
        self.extra_bytes.clear();
        self.counters.clear();
    }

    /// The decoded flow records.
    pub fn records(&self) -> &[FlowRecord] {
        self.records.get(..self.len).unwrap_or(&[])
    }

    /// Mutable access to the records (for enrichment in place).
    pub fn records_mut(&mut self) -> &mut [FlowRecord] {
        let len = self.len;
        self.records.get_mut(..len).unwrap_or(&mut [])
    }

    /// The sFlow interface counter samples decoded since the last `clear`.
    pub fn counters(&self) -> &[InterfaceCounters] {
        &self.counters
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records the batch can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records that still fit.
    pub fn remaining(&self) -> usize {
        self.capacity - self.len
    }

    /// The repeated fields of `record` ([`FlowLists::EMPTY`] when it has none).
    pub fn lists(&self, record: &FlowRecord) -> &FlowLists {
        self.lists.get(record.lists.0 as usize).unwrap_or(&FlowLists::EMPTY)
    }

    /// Appends a whole record and its lists (a record decoded from a message rather than written in
    /// place by a decoder). Returns `false` when the batch is full.
    pub fn push_record(&mut self, record: &FlowRecord, lists: &FlowLists) -> bool {
        if self.push(record).is_none() {
            return false;
        }
        lists == &FlowLists::EMPTY || self.attach_lists(*lists)
    }

    /// Keeps the first `len` records, dropping the rest (and their lists and extras).
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            self.pop();
        }
    }

    /// Gives the last record `lists`. Returns `false` when there is no record.
    pub(crate) fn attach_lists(&mut self, lists: FlowLists) -> bool {
        let Ok(index) = u32::try_from(self.lists.len()) else { return false };
        let Some(rec) = self.last_mut() else { return false };
        rec.lists = ListsRef(index);
        self.lists.push(lists);
        true
    }

    /// The unmapped fields of `record`, with their raw bytes.
    pub fn extra_fields(&self, record: &FlowRecord) -> impl Iterator<Item = (&ExtraField, &[u8])> {
        let start = record.extra.start as usize;
        let end = start + usize::from(record.extra.len);
        self.extra_fields.get(start..end).unwrap_or(&[]).iter().map(|f| {
            let s = f.start as usize;
            (f, self.extra_bytes.get(s..s + f.len as usize).unwrap_or(&[]))
        })
    }

    /// The raw bytes of field (`pen`, `id`) of `record`, if the decoder kept it.
    pub fn extra_field(&self, record: &FlowRecord, pen: u32, id: u16) -> Option<&[u8]> {
        self.extra_fields(record).find(|(f, _)| f.pen == pen && f.id == id).map(|(_, b)| b)
    }

    /// Appends a record slot initialised to `template` and returns it, or `None` when full.
    #[inline]
    pub(crate) fn push(&mut self, template: &FlowRecord) -> Option<&mut FlowRecord> {
        self.push_with(|| *template)
    }

    /// Appends the record `make` builds, written straight into its slot (build it with a struct
    /// literal: no copy through the stack), and returns it; `None` when full.
    #[inline(always)]
    pub(crate) fn push_with(&mut self, make: impl FnOnce() -> FlowRecord) -> Option<&mut FlowRecord> {
        if self.len >= self.capacity {
            return None;
        }
        let extra = self.fresh_extra();
        if self.len == self.records.len() {
            self.records.push(FlowRecord::default()); // growing to the high-water mark: warm-up only
        }
        let slot = self.records.get_mut(self.len)?;
        self.len += 1;
        *slot = make();
        slot.extra = extra;
        slot.lists = ListsRef::NONE;
        Some(slot)
    }

    /// Appends up to `n` record slots and returns them, for a decoder that writes each one whole (with
    /// [`Batch::fresh_extra`] and [`ListsRef::NONE`]); fewer than `n` when the batch fills up.
    #[inline]
    pub(crate) fn push_slots(&mut self, n: usize) -> &mut [FlowRecord] {
        let start = self.len;
        let end = start + n.min(self.remaining());
        if self.records.len() < end {
            self.records.resize(end, FlowRecord::default()); // growing to the high-water mark: warm-up only
        }
        self.len = end;
        self.records.get_mut(start..end).unwrap_or(&mut [])
    }

    /// The [`ExtraRange`] of a record appended now: empty, starting after the extras kept so far.
    #[inline]
    pub(crate) fn fresh_extra(&self) -> ExtraRange {
        ExtraRange { start: u32::try_from(self.extra_fields.len()).unwrap_or(u32::MAX), len: 0 }
    }

    fn last_mut(&mut self) -> Option<&mut FlowRecord> {
        let last = self.len.checked_sub(1)?;
        self.records.get_mut(last)
    }

    /// Drops the last record (a record that failed half-way through decoding).
    pub(crate) fn pop(&mut self) {
        let Some(rec) = self.last_mut().copied() else { return };
        self.len -= 1;
        self.extra_fields.truncate(rec.extra.start as usize);
        if rec.lists != ListsRef::NONE {
            self.lists.truncate(rec.lists.0 as usize);
        }
    }

    /// Keeps an unmapped field for the last record. Bounded: beyond the extra-byte budget of the batch
    /// the field is dropped and `false` returned.
    pub(crate) fn push_extra(&mut self, pen: u32, id: u16, bytes: &[u8]) -> bool {
        let budget = self.capacity.saturating_mul(Self::EXTRA_BYTES_PER_RECORD);
        if self.extra_bytes.len() + bytes.len() > budget {
            return false;
        }
        let Ok(start) = u32::try_from(self.extra_bytes.len()) else {
            return false;
        };
        let Some(rec) = self.last_mut() else {
            return false;
        };
        rec.extra.len = rec.extra.len.saturating_add(1);
        self.extra_bytes.extend_from_slice(bytes);
        self.extra_fields.push(ExtraField { pen, id, start, len: bytes.len() as u32 });
        true
    }

    /// Appends an sFlow counter sample, or returns `false` when full.
    pub(crate) fn push_counters(&mut self, c: InterfaceCounters) -> bool {
        if self.counters.len() >= self.capacity {
            return false;
        }
        self.counters.push(c);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_refuses_records_beyond_its_capacity() {
        let mut b = Batch::with_capacity(2);
        let t = FlowRecord::default();
        assert!(b.push(&t).is_some());
        assert!(b.push(&t).is_some());
        assert!(b.push(&t).is_none());
        assert_eq!(b.len(), 2);
        assert_eq!(b.remaining(), 0);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.capacity(), 2);
    }

    #[test]
    fn extra_fields_are_addressable_by_pen_and_id() {
        let mut b = Batch::with_capacity(4);
        let t = FlowRecord::default();
        b.push(&t);
        assert!(b.push_extra(5951, 128, b"abc"));
        assert!(b.push_extra(0, 400, &[1, 2]));
        b.push(&t);
        assert!(b.push_extra(5951, 128, b"zz"));
        let (r0, r1) = (b.records()[0], b.records()[1]);
        assert_eq!(b.extra_field(&r0, 5951, 128), Some(&b"abc"[..]));
        assert_eq!(b.extra_field(&r0, 0, 400), Some(&[1u8, 2][..]));
        assert_eq!(b.extra_field(&r1, 5951, 128), Some(&b"zz"[..]));
        assert_eq!(b.extra_field(&r1, 0, 400), None);
        b.pop();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn lists_belong_to_their_record_and_go_with_it() {
        let mut b = Batch::with_capacity(4);
        let t = FlowRecord::default();
        b.push(&t);
        b.push(&t);
        let mut lists = FlowLists::EMPTY;
        lists.as_path.push(65000);
        assert!(b.attach_lists(lists));
        let (r0, r1) = (b.records()[0], b.records()[1]);
        assert_eq!(b.lists(&r0), &FlowLists::EMPTY);
        assert_eq!(b.lists(&r1).as_path.as_slice(), &[65000]);
        b.pop();
        b.push(&t);
        assert_eq!(b.lists(&b.records()[1]), &FlowLists::EMPTY);
        b.clear();
        assert!(!b.attach_lists(FlowLists::EMPTY));
    }

    #[test]
    fn extra_bytes_are_bounded_by_the_batch_budget() {
        let mut b = Batch::with_capacity(1);
        b.push(&FlowRecord::default());
        assert!(b.push_extra(0, 1, &[0; 512]));
        assert!(!b.push_extra(0, 2, &[0; 1]));
        assert!(b.push_counters(InterfaceCounters::default()));
        assert!(!b.push_counters(InterfaceCounters::default()));
        assert_eq!(b.counters().len(), 1);
    }
}
