//! Parse and aggregate throughput on simulated minutes (the hot path of `report`), the
//! two ways a minute file is inflated, and an explanation's time at the full 2012 scale.
//!
//! The recording is made in memory by the simulator (scale 0.2, 30 minutes around the
//! flash crowd), so the benchmark needs no files.

use std::hint::black_box;

use chrono_tz::Asia::Hong_Kong;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use peerscope::engine::aggregate::Aggregator;
use peerscope::engine::aggregate::qoe::QoeParams;
use peerscope::engine::calendar::{Calendar, MINUTE_MS};
use peerscope::engine::cmcd::json::{Logged, parse_log_line};
use peerscope::engine::cmcd::sessions::CmcdSessions;
use peerscope::engine::cmcd::text::{parse_dictionary, to_text};
use peerscope::engine::explain::{Baseline, Target, explain};
use peerscope::engine::geography::Geography;
use peerscope::engine::geography::location::IpGeo;
use peerscope::engine::monitor::{ExplainQuery, Monitor};
use peerscope::engine::observe::catalog::Catalog;
use peerscope::engine::query::filter::Filter;
use peerscope::engine::record::{Origin, parse_feedback};
use peerscope::recording::decode::{GzSalvage, inflate_whole, lines};
use peerscope::server::stamp::stamp_cmcd;
use peerscope::simulate::emit::{EmitKnobs, Format, sweep};
use peerscope::simulate::olympics::{FLASH_AT_MS, FLASH_DAY, Knobs, Population, population};
use peerscope::simulate::plan::ip_geo_csv;

/// The flash crowd's day at `scale` of the full load (1: 7,000 peers at the peak), as
/// two servers log it.
fn flash_day(scale: f64) -> (Population, EmitKnobs) {
    let knobs = Knobs {
        seed: 1,
        users: 177_245.0 * scale,
        peak: 7000.0 * scale,
    };
    let emit = EmitKnobs {
        seed: 1,
        servers: 2,
        duplicate_share: 0.002,
        affinity: false,
        malformed_share: 0.0,
        format: Format::Feedback,
    };
    (population(knobs, FLASH_DAY - 1..FLASH_DAY + 1), emit)
}

/// The scenario at a fifth of full scale, 30 minutes around the flash crowd.
fn flash_crowd() -> (Population, EmitKnobs, i64, i64) {
    let (pop, emit) = flash_day(0.2);
    (
        pop,
        emit,
        FLASH_AT_MS - 15 * MINUTE_MS,
        FLASH_AT_MS + 15 * MINUTE_MS,
    )
}

fn simulated_text() -> Vec<u8> {
    let (pop, emit, from, to) = flash_crowd();
    let mut text = Vec::new();
    sweep(&pop, emit, from, to, |m| text.extend_from_slice(&m.text));
    text
}

fn bench(c: &mut Criterion) {
    let text = simulated_text();
    let records = lines(&text).count() as u64;
    let mut geo = IpGeo::empty();
    geo.extend_from_csv(&ip_geo_csv()).expect("plan table");

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut ok = 0u64;
            for (_, line) in lines(&text) {
                ok += u64::from(parse_feedback(black_box(line), Origin::Log).is_ok());
            }
            ok
        });
    });
    group.bench_function("parse+aggregate", |b| {
        b.iter(|| {
            let mut catalog = Catalog::new(geo.clone());
            let mut agg =
                Aggregator::new(QoeParams::default(), Calendar::new(Hong_Kong), MINUTE_MS);
            for (_, line) in lines(&text) {
                if let Ok(r) = parse_feedback(line, Origin::Log) {
                    if let Some(obs) = catalog.observe(&r.core()) {
                        agg.ingest(&obs);
                    }
                }
            }
            agg.close();
            agg.accepted()
        });
    });
    group.finish();

    // Inflating minute files: zlib-rs streaming (the salvaging reader every damaged or
    // many-member file goes to) against libdeflate inflating one member whole (what a
    // sound minute gets), on the simulated text cut into minute-sized members at gzip
    // level 1, as `serve` and `simulate` write them.
    let minutes: Vec<Vec<u8>> = text
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(4_000)
        .map(|lines| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for line in lines {
                std::io::Write::write_all(&mut e, line).expect("gzip");
            }
            e.finish().expect("gzip")
        })
        .collect();
    let mut group = c.benchmark_group("inflate");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("zlib-rs stream", |b| {
        b.iter(|| {
            let mut total = 0;
            for m in &minutes {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut GzSalvage::new(&m[..]), &mut out).expect("gzip");
                total += out.len();
            }
            total
        });
    });
    group.bench_function("libdeflate whole", |b| {
        b.iter(|| {
            let mut total = 0;
            for m in &minutes {
                total += inflate_whole(m).expect("one sound member").len();
            }
            total
        });
    });
    group.finish();

    // IP location: a million addresses, half inside the plan's networks (112.116.0.0/14
    // and around), half anywhere (mostly misses, the slowest case: every length probed).
    let addresses: Vec<std::net::IpAddr> = (0..1_000_000u32)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            let v4 = if i % 2 == 0 {
                0x7074_0000 | (x >> 14)
            } else {
                x
            };
            std::net::IpAddr::V4(std::net::Ipv4Addr::from(v4))
        })
        .collect();
    let mut group = c.benchmark_group("location");
    group.throughput(Throughput::Elements(addresses.len() as u64));
    group.sample_size(10);
    group.bench_function("lookup 1M IPv4", |b| {
        b.iter(|| {
            let mut known = 0u32;
            for ip in &addresses {
                known += u32::from(geo.locate(*ip).lat_lon.is_some());
            }
            known
        });
    });
    group.finish();

    // Record generation alone, minutes on a thread per core (compression runs on the
    // writer threads).
    let (pop, emit, from, to) = flash_crowd();
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(
        sweep(&pop, emit, from, to, |_| {}).records,
    ));
    group.sample_size(10);
    group.bench_function("generate", |b| {
        b.iter(|| sweep(&pop, emit, from, to, |m| drop(black_box(m))).records);
    });
    group.finish();

    bench_cmcd(c);
    bench_consume(c);
}

/// The engine's consumer alone, as `report`'s ordering thread runs it: records already
/// parsed and in `recv` order, each resolved by the catalog and taken by the aggregator.
/// At the full 2012 scale around the flash crowd (7,000 peers online and more), so the
/// per-peer and per-session state a record reaches is as spread in memory as in a full
/// day's report, where the 0.2 scale of `engine/parse+aggregate` keeps it in cache.
fn bench_consume(c: &mut Criterion) {
    let (pop, emit) = flash_day(1.0);
    let mut text = Vec::new();
    let (from, to) = (FLASH_AT_MS - 15 * MINUTE_MS, FLASH_AT_MS + 15 * MINUTE_MS);
    sweep(&pop, emit, from, to, |m| text.extend_from_slice(&m.text));
    let mut records: Vec<_> = lines(&text)
        .filter_map(|(_, line)| parse_feedback(line, Origin::Log).ok())
        .collect();
    records.sort_by_key(|r| r.payload.recv);
    let mut geo = IpGeo::empty();
    geo.extend_from_csv(&ip_geo_csv()).expect("plan table");

    let mut group = c.benchmark_group("consume");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(10);
    group.bench_function("observe+ingest, full scale", |b| {
        b.iter(|| {
            let mut catalog = Catalog::new(geo.clone());
            let mut agg =
                Aggregator::new(QoeParams::default(), Calendar::new(Hong_Kong), MINUTE_MS);
            for r in &records {
                if let Some(obs) = catalog.observe(&r.core()) {
                    agg.ingest(&obs);
                }
            }
            agg.close();
            agg.accepted()
        });
    });
    group.finish();
}

/// CMCD: the same 30 minutes told by CMCD players (`simulate --format cmcd`), as the
/// `cmcd` stream logs them: reading the log lines, and deriving feedback records from
/// the reports per session (goal: ≥ 1 M reports/s per core).
fn bench_cmcd(c: &mut Criterion) {
    let (pop, mut emit, from, to) = flash_crowd();
    emit.format = Format::Cmcd;
    let mut text = Vec::new();
    sweep(&pop, emit, from, to, |m| text.extend_from_slice(&m.text));
    let mut logged: Vec<Logged> = lines(&text)
        .map(|(_, l)| parse_log_line(l).expect("simulated lines read"))
        .collect();
    logged.sort_by_key(|l| l.recv);
    let mut group = c.benchmark_group("cmcd");
    group.throughput(Throughput::Elements(logged.len() as u64));
    group.sample_size(10);
    group.bench_function("derive sessions", |b| {
        b.iter(|| {
            let mut sessions = CmcdSessions::new();
            let mut records = 0u64;
            for l in &logged {
                sessions.push_report(black_box(&l.report), l.recv, &l.ip, |r| {
                    records += u64::from(black_box(r.payload.seq) > 0);
                });
            }
            records
        });
    });
    group.bench_function("read log lines", |b| {
        b.iter(|| {
            lines(&text)
                .filter(|(_, l)| parse_log_line(black_box(l)).is_ok())
                .count()
        });
    });
    // What `/v1/cmcd` does per report of an `application/cmcd` body, against what
    // `/v1/feedback` does per record: read and check it, write its log line.
    let bodies: Vec<String> = logged.iter().map(|l| to_text(&l.report)).collect();
    group.bench_function("collect text reports", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            let mut ok = 0u64;
            for body in &bodies {
                if let Ok(r) = parse_dictionary(black_box(body)) {
                    ok += u64::from(stamp_cmcd(r, 1, "fs1", "192.0.2.1", &mut out).is_ok());
                    out.truncate(0);
                }
            }
            ok
        });
    });
    group.finish();
}

/// An explanation from the live engine at the full 2012 scale (7,000 peers at the
/// flash crowd): the cube of QoE over a 5-minute window against the hour before, read
/// from the engine's history, and the search over it (goal: under 20 ms).
fn bench_explain(c: &mut Criterion) {
    let (pop, emit) = flash_day(1.0);
    let now = FLASH_AT_MS + 5 * MINUTE_MS;
    let mut geo = IpGeo::empty();
    geo.extend_from_csv(&ip_geo_csv()).expect("plan table");
    let mut monitor = Monitor::new(geo, QoeParams::default())
        .with_geography(std::sync::Arc::new(Geography::shipped()));
    sweep(&pop, emit, now - 75 * MINUTE_MS, now, |m| {
        for (_, line) in lines(&m.text) {
            if let Ok(r) = parse_feedback(line, Origin::Log) {
                monitor.ingest(&r.core());
            }
        }
    });
    monitor.advance(now);
    let q = ExplainQuery {
        target: Target::Qoe,
        moment: now,
        window_ms: 5 * MINUTE_MS,
        baseline: Baseline::TrailingHour,
        filter: Filter::default(),
    };
    let cells = monitor.explain_cube(&q, 5000).leaves.len();
    let mut group = c.benchmark_group("explain");
    group.sample_size(20);
    group.bench_function(format!("QoE at full scale, {cells} cells"), |b| {
        b.iter(|| explain(&monitor.explain_cube(black_box(&q), 5000), q.target));
    });
    group.finish();
}

criterion_group!(benches, bench, bench_explain);
criterion_main!(benches);
