//! Encoders: goflow2-compatible protobuf (Kafka), ClickHouse RowBinary and Native (inserts) and
//! JSON lines (humans, tests).

pub mod block_order;
pub mod json;
pub(crate) mod leb128;
pub mod native;
pub mod native_columns;
pub mod protobuf;
pub mod rowbinary;
