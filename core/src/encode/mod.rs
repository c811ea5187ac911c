//! Encoders: goflow2-compatible protobuf (Kafka) and JSON lines (humans, tests).

pub mod json;
pub mod protobuf;
