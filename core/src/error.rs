//! The crate's one error type.
//!
//! Every variant carries the context an operator needs to find the culprit (exporter, template id,
//! byte offset). Errors raised per datagram or message hold no heap data, so reporting them on the hot
//! path never allocates.

use std::net::IpAddr;

/// Why a datagram, a flowset or a message was rejected. Also the label of the per-reason counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Fewer bytes than the structure being read needs.
    Truncated,
    /// The version field names no protocol Helios decodes.
    UnknownVersion,
    /// A length field disagrees with the bytes that are there.
    BadLength,
    /// Data arrived for a template the exporter has not sent (yet).
    MissingTemplate,
    /// A template is malformed (no fields, too many fields, zero-length record).
    BadTemplate,
    /// The exporter already holds its maximum number of templates.
    TemplateLimit,
    /// The decoder already tracks its maximum number of exporter sources.
    SourceLimit,
    /// A set or flowset id that is reserved by the protocol.
    BadSetId,
    /// An address type that is neither IPv4 nor IPv6.
    BadAddressType,
    /// The caller's batch has no room left for more records.
    BatchFull,
    /// A protobuf message could not be parsed.
    BadProtobuf,
    /// A value does not fit its field (a port above 65535, say).
    OutOfRange,
    /// Enrichment data (a MaxMind database, a NetBox inventory) is corrupt or inconsistent.
    BadEnrichmentData,
}

impl Reason {
    /// Every reason, in counter order.
    pub const ALL: [Reason; 13] = [
        Reason::Truncated,
        Reason::UnknownVersion,
        Reason::BadLength,
        Reason::MissingTemplate,
        Reason::BadTemplate,
        Reason::TemplateLimit,
        Reason::SourceLimit,
        Reason::BadSetId,
        Reason::BadAddressType,
        Reason::BatchFull,
        Reason::BadProtobuf,
        Reason::OutOfRange,
        Reason::BadEnrichmentData,
    ];

    /// A stable, lower-case label for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Truncated => "truncated",
            Reason::UnknownVersion => "unknown_version",
            Reason::BadLength => "bad_length",
            Reason::MissingTemplate => "missing_template",
            Reason::BadTemplate => "bad_template",
            Reason::TemplateLimit => "template_limit",
            Reason::SourceLimit => "source_limit",
            Reason::BadSetId => "bad_set_id",
            Reason::BadAddressType => "bad_address_type",
            Reason::BatchFull => "batch_full",
            Reason::BadProtobuf => "bad_protobuf",
            Reason::OutOfRange => "out_of_range",
            Reason::BadEnrichmentData => "bad_enrichment_data",
        }
    }

    /// Position of this reason in [`Reason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type of `helios-core`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A flow datagram (NetFlow, IPFIX, sFlow) was rejected, wholly or in part.
    #[error("{protocol} datagram from {exporter}: {reason} at byte {offset}{}", template_suffix(*.template_id))]
    Datagram {
        /// Protocol the datagram claimed to be (`netflow_v5`, `netflow_v9`, `ipfix`, `sflow_v5`, `unknown`).
        protocol: &'static str,
        /// Address the datagram came from.
        exporter: IpAddr,
        /// What was wrong.
        reason: Reason,
        /// Byte offset into the datagram where the problem was found.
        offset: usize,
        /// The template concerned, when there is one.
        template_id: Option<u16>,
    },
    /// A saved template cache could not be imported; nothing was imported.
    #[error("template cache import: {detail}")]
    TemplateImport {
        /// What was wrong with the saved cache.
        detail: String,
    },
    /// A MaxMind database could not be read; nothing was built from it.
    #[error("{database} database: {detail}")]
    GeoIp {
        /// Which database (`city`, `asn`).
        database: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A NetBox inventory (snapshot file or API answer) is malformed; nothing was built from it.
    #[error("NetBox inventory: {detail}")]
    Inventory {
        /// What was wrong.
        detail: String,
    },
    /// `RowBinary` rows handed to the `Native` encoder do not hold whole rows.
    #[error("RowBinary rows: {reason} at byte {offset}")]
    RowBinary {
        /// What was wrong.
        reason: Reason,
        /// Byte offset into the rows.
        offset: usize,
    },
    /// A `Native` block read back is not one of `flows_raw`'s, whole.
    #[error("Native block: {reason} at byte {offset}")]
    Native {
        /// What was wrong.
        reason: Reason,
        /// Byte offset into the block.
        offset: usize,
    },
    /// A protobuf `FlowMessage` could not be decoded.
    #[error("protobuf FlowMessage: {reason} at byte {offset}")]
    Protobuf {
        /// What was wrong.
        reason: Reason,
        /// Byte offset into the input.
        offset: usize,
    },
}

fn template_suffix(id: Option<u16>) -> String {
    id.map(|id| format!(" (template {id})")).unwrap_or_default()
}

impl Error {
    /// The reason, for per-reason counters.
    pub const fn reason(&self) -> Reason {
        match self {
            Error::Datagram { reason, .. }
            | Error::Protobuf { reason, .. }
            | Error::RowBinary { reason, .. }
            | Error::Native { reason, .. } => *reason,
            Error::TemplateImport { .. } => Reason::BadTemplate,
            Error::GeoIp { .. } | Error::Inventory { .. } => Reason::BadEnrichmentData,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
