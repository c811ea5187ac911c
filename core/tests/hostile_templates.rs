//! Template floods, sent as an attacker would (one address with many observation domains, or many
//! spoofed addresses, or templates as large as they come): a legitimate exporter that arrives
//! afterwards still has its template learnt and its data decoded, and the cache stays within its
//! bounds, bytes included.

use std::net::IpAddr;

use helios_core::decode::{Decoder, DecoderConfig, TemplateLimits};
use helios_core::flow::Batch;

const NOW_NS: u64 = 1_800_000_000 * 1_000_000_000;

/// An IPFIX message of `domain`: a header, then `sets` (id, body) each with its set header.
fn ipfix(domain: u32, sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, set) in sets {
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&(set.len() as u16 + 4).to_be_bytes());
        body.extend_from_slice(set);
    }
    let mut m = vec![0, 10];
    m.extend_from_slice(&(body.len() as u16 + 16).to_be_bytes());
    m.extend_from_slice(&((NOW_NS / 1_000_000_000) as u32).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1]);
    m.extend_from_slice(&domain.to_be_bytes());
    m.extend_from_slice(&body);
    m
}

/// A template set body declaring `ids`, each with `fields` fields: sourceIPv4Address then octetDeltaCount
/// (the rest more octet counts).
fn templates(ids: std::ops::Range<u16>, fields: u16) -> Vec<u8> {
    let mut set = Vec::new();
    for id in ids {
        set.extend_from_slice(&id.to_be_bytes());
        set.extend_from_slice(&fields.to_be_bytes());
        set.extend_from_slice(&[0, 8, 0, 4]);
        for _ in 1..fields {
            set.extend_from_slice(&[0, 1, 0, 8]);
        }
    }
    set
}

/// A legitimate exporter: its template, then a data record of it. Returns the flows decoded.
fn legitimate(decoder: &mut Decoder, exporter: IpAddr) -> usize {
    let mut batch = Batch::with_capacity(16);
    decoder.decode(exporter, NOW_NS, &ipfix(1, &[(2, templates(256..257, 2))]), &mut batch).expect("its template");
    let record = [192, 0, 2, 77, 0, 0, 0, 0, 0, 0, 5, 220];
    decoder.decode(exporter, NOW_NS + 1, &ipfix(1, &[(256, record.to_vec())]), &mut batch).expect("its data");
    batch.len()
}

#[test]
fn one_address_declaring_64_domains_of_1024_templates_cannot_lock_others_out() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(16);
    // An exporter that was there first, and whose template data keeps using.
    let known = IpAddr::from([192, 0, 2, 1]);
    assert_eq!(legitimate(&mut decoder, known), 1);
    let attacker = IpAddr::from([203, 0, 113, 66]);
    for domain in 0..64 {
        for chunk in 0..4u16 {
            let ids = 256 + chunk * 256..256 + (chunk + 1) * 256;
            let _ = decoder.decode(attacker, NOW_NS, &ipfix(domain, &[(2, templates(ids, 2))]), &mut batch);
        }
    }
    let limits = TemplateLimits::default();
    assert!(decoder.templates().len() <= limits.max_templates);
    // Re-sent by the attacker, its templates are still only refreshed, never used.
    let _ = decoder.decode(attacker, NOW_NS, &ipfix(0, &[(2, templates(256..512, 2))]), &mut batch);
    assert_eq!(legitimate(&mut decoder, IpAddr::from([192, 0, 2, 2])), 1, "a new exporter is decoded");
    assert_eq!(legitimate(&mut decoder, known), 1, "and the known one too");
    assert!(decoder.templates().evicted() > 0);
}

#[test]
fn twenty_thousand_spoofed_sources_cannot_lock_a_real_exporter_out() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(16);
    for n in 0..20_000u32 {
        let spoofed = IpAddr::from((0x0a00_0000 | n).to_be_bytes());
        let _ = decoder.decode(spoofed, NOW_NS, &ipfix(1, &[(2, templates(256..257, 2))]), &mut batch);
    }
    assert!(decoder.templates().sources() <= TemplateLimits::default().max_sources);
    assert_eq!(legitimate(&mut decoder, IpAddr::from([192, 0, 2, 3])), 1);
}

#[test]
fn a_flood_of_the_largest_templates_stays_within_the_byte_budget() {
    let limits = TemplateLimits::default();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(16);
    let attacker = IpAddr::from([203, 0, 113, 67]);
    // 20 domains x 1,024 templates of 512 fields: ~560 MiB if nothing bounded the bytes.
    for domain in 0..20 {
        for chunk in 0..1024u16 / 31 + 1 {
            let first = 256 + chunk * 31;
            let _ =
                decoder.decode(attacker, NOW_NS, &ipfix(domain, &[(2, templates(first..first + 31, 512))]), &mut batch);
        }
    }
    assert!(decoder.templates().bytes() <= limits.max_bytes, "{} bytes", decoder.templates().bytes());
    assert!(decoder.templates().len() > 1000, "the budget is used, not refused: {}", decoder.templates().len());
    assert_eq!(legitimate(&mut decoder, IpAddr::from([192, 0, 2, 4])), 1);
}
