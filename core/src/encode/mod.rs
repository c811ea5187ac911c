//! Encoders: goflow2-compatible protobuf (Kafka), ClickHouse RowBinary (inserts) and JSON lines
//! (humans, tests).

pub mod json;
pub mod protobuf;
pub mod rowbinary;
