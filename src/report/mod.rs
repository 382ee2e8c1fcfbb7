//! `peerscope report`: daily, per-minute and per-ISP tables from a recording (DESIGN §8).

pub mod analysis;
pub mod cube;
pub mod explain;
pub mod figures;
pub mod nodes;
pub mod output;
pub mod probes;
pub mod sessions;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::UsageError;
use crate::config::Settings;
use crate::engine::calendar::{Calendar, Day, MINUTE_MS};
use crate::engine::probes::ProbeMetric;
use crate::engine::query::filter::Filter;
use crate::recording::index::{IndexOptions, RecordingIndex, user_cache};
use crate::recording::input::Input;
use crate::recording::scan::{MinuteGroup, Recording};

use crate::recording::skipped::Skipped;
use analysis::{AnalysisOptions, analyse_with};
use output::{Format, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Day,
    Minute,
    Isp,
    /// Each CDN node's own figures (access logs only)
    Node,
    /// Each session: its bitrate, throughput, stall, continuity, QoE
    Session,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Recording directory (one or more feedback servers' log trees), or CDN nodes'
    /// nginx access logs in the `peerscope_cdn` format (deploy/nginx-cdn.conf)
    #[arg(value_name = "DIR|ACCESS_LOG", required_unless_present = "from", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// The cubes `peerscope ship` keeps in ClickHouse instead of logs:
    /// clickhouse://HOST:PORT/DATABASE (--by day, minute or isp)
    #[arg(long, value_name = "URI", conflicts_with_all = ["input", "probes", "explain"])]
    pub from: Option<String>,
    /// Table to print
    #[arg(long, value_enum, default_value = "day")]
    pub by: By,
    /// Only this day, YYYY-MM-DD in the configured time zone
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub day: Option<String>,
    /// Keep only records matching isp=A,channel=B,district=C (repeat a key for alternatives)
    #[arg(long, value_name = "TERMS")]
    pub filter: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// The probe table instead: median of --metric per path, destinations × probes
    #[arg(long)]
    pub probes: bool,
    /// Which cells hold the change of --metric in the window ending at TIME (local
    /// time of the configured zone), against --baseline
    #[arg(long, value_name = "TIME", conflicts_with_all = ["probes", "by", "day"])]
    pub explain: Option<String>,
    /// With --explain: hour (the hour before, default), day (the same time the day
    /// before), FROM..TO, or another recording's directory (same time of day)
    #[arg(long, value_name = "BASELINE", requires = "explain")]
    pub baseline: Option<String>,
    /// With --probes: rtt (default), loss_fwd, loss_rev, reorder_fwd, reorder_rev; with
    /// --explain: qoe (default), continuity, startup, online, up, down
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,
    /// Worker threads for reading minute files, 1 to 1024 (default: all cores)
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Option<usize>,
}

pub fn run(args: &ReportArgs, settings: &Settings) -> anyhow::Result<()> {
    let day = match &args.day {
        None => None,
        Some(text) => Some(Calendar::parse_day(text).ok_or_else(|| {
            UsageError(format!(
                "--day {text:?} is not a date (expected YYYY-MM-DD)"
            ))
        })?),
    };
    let filter = match &args.filter {
        None => Filter::default(),
        Some(text) => Filter::parse(text).map_err(|e| UsageError(e.to_string()))?,
    };
    if let Some(uri) = &args.from {
        if args.metric.is_some() {
            return Err(
                UsageError("--metric needs --probes or --explain, which read logs".into()).into(),
            );
        }
        let (table, skipped) = cube::run(uri, args.by, day, &filter, settings)?;
        return print_table(&table, args.format, &skipped);
    }
    if args.by == By::Node {
        check_node_flags(args)?;
    }
    let progress = std::io::stderr().is_terminal();
    let input = Input::open(&args.input, progress)?;
    if args.by == By::Node {
        return run_nodes(settings, &input, args.format, day);
    }
    let dir = input.dir();
    let recording =
        Recording::scan(dir).with_context(|| format!("cannot read recording {}", dir.display()))?;
    for p in &recording.problems {
        eprintln!("warning: cannot read {}: {}", p.path.display(), p.message);
    }
    if !recording.trees.is_empty() && input.access_logs().is_none() {
        eprintln!("{}", trees_read(dir, &recording.trees));
    }
    if args.probes {
        return run_probes(args, settings, dir, &recording, day);
    }
    if args.metric.is_some() && args.explain.is_none() {
        return Err(UsageError("--metric needs --probes or --explain".into()).into());
    }
    if recording.feedback.is_empty() {
        return Err(UsageError(input.no_viewers()).into());
    }
    if let Some(time) = &args.explain {
        let mut explained = explain::run(args, settings, dir, recording, time, &filter)?;
        if let Some(logs) = input.access_logs() {
            explained.skipped.merge(&logs.skipped);
        }
        return print_explanation(&explained, args.format);
    }
    // Database coordinates are placed on the map's districts; without a map they stay
    // Unknown (the table's own districts do not need it).
    let geography = if settings.city_db.is_some() {
        crate::geodata::load_geography(settings).ok()
    } else {
        None
    };
    let geo = crate::geodata::load_ip_geo(settings, geography)?;
    // ISPs and districts are the location table's: checked before anything is read.
    filter.check_names(&geo, &[]).map_err(UsageError)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let calendar = Calendar::new(settings.timezone);
    let part = match day {
        // "New" and "cumulative" users under a filter need each peer's first matching
        // record, which only the whole recording holds.
        // A session's figures are over all its reports, the day before included.
        Some(_) if args.by == By::Session => None,
        Some(day) if filter.is_empty() || args.by == By::Isp => Some(day_part(
            dir, &recording, &calendar, day, threads, progress, settings,
        )),
        _ => None,
    };
    let (groups, seen_before) = match &part {
        Some(p) if filter.is_empty() => (p.groups, p.index.peers_before(p.read_from)),
        // `--by isp` under a filter: no figure of it is about new peers.
        Some(p) => (p.groups, &[][..]),
        None => (&recording.feedback[..], &[][..]),
    };
    let mut sessions = (args.by == By::Session).then(|| sessions::SessionTable::new(settings.qoe));
    let mut analysis = analyse_with(
        groups,
        AnalysisOptions {
            geo,
            calendar,
            qoe: settings.qoe,
            filter: &filter,
            threads,
            progress,
            seen_before,
        },
        |obs| {
            if let Some(table) = &mut sessions {
                table.add(obs);
            }
        },
    );
    if let Some(p) = &part {
        // The footer counts what the whole recording skipped, as a full read does.
        analysis.skipped = p.index.skipped().clone();
        analysis.day_view_ms = Some(p.view_ms);
    }
    if let Some(logs) = input.access_logs() {
        analysis.skipped.merge(&logs.skipped);
    }
    filter
        .check_names(
            &analysis.catalog.geo,
            &analysis.catalog.channels.names().collect::<Vec<_>>(),
        )
        .map_err(UsageError)?;
    let table = match args.by {
        By::Day => figures::by_day(&analysis, day),
        By::Minute => figures::by_minute(&analysis, day),
        By::Isp => figures::by_isp(&analysis, day),
        By::Node => return run_nodes(settings, &input, args.format, day),
        By::Session => sessions.as_ref().map_or_else(Table::default, |t| {
            t.table(&analysis.catalog, &Calendar::new(settings.timezone), day)
        }),
    };
    print_table(&table, args.format, &analysis.skipped)
}

/// The minutes one day's figures need, and the index that told.
struct DayPart<'a> {
    index: RecordingIndex,
    groups: &'a [MinuteGroup],
    read_from: i64,
    /// The day's views' summed length, to their ends after the day.
    view_ms: (Day, i64),
}

/// Reads (or builds) the recording's index and picks the minute files of `day` and of
/// the warm-up and views before it; says on stderr what it read.
fn day_part<'a>(
    dir: &std::path::Path,
    recording: &'a Recording,
    calendar: &Calendar,
    day: Day,
    threads: usize,
    progress: bool,
    settings: &Settings,
) -> DayPart<'a> {
    let options = IndexOptions {
        cache: user_cache(),
        qoe: settings.qoe,
        route_change: settings.route_change,
        threads,
        progress,
    };
    let (index, opened) =
        RecordingIndex::open(dir, &recording.feedback, &recording.probes, &options);
    opened.say();
    let (start, end) = (calendar.day_start(day), calendar.day_start(day + 1));
    let read_from = index.read_from(start, end);
    let all = &recording.feedback;
    let first = all.partition_point(|g| g.start_ms + MINUTE_MS <= read_from);
    let last = all.partition_point(|g| g.start_ms < end);
    let groups = &all[first..last.max(first)];
    eprintln!(
        "reading {} of the recording's {} minutes: the day, and its views and online peers from before it",
        groups.len(),
        all.len()
    );
    DayPart {
        view_ms: (day, index.view_ms_begun(start, end)),
        index,
        groups,
        read_from,
    }
}

/// The flags `--by node` refuses, before any log is read.
fn check_node_flags(args: &ReportArgs) -> Result<(), UsageError> {
    for (given, flag) in [
        (args.filter.is_some(), "--filter"),
        (args.probes, "--probes"),
        (args.metric.is_some(), "--metric"),
    ] {
        if given {
            return Err(UsageError(format!(
                "{flag} does not apply to --by node: a node's figures are over all its requests"
            )));
        }
    }
    Ok(())
}

/// `--by node`: the access logs' own figures, per node.
fn run_nodes(
    settings: &Settings,
    input: &Input,
    format: Format,
    day: Option<Day>,
) -> anyhow::Result<()> {
    let Some(logs) = input.access_logs() else {
        return Err(UsageError(
            "--by node is for CDN access logs: a recording directory has no nodes".into(),
        )
        .into());
    };
    let calendar = Calendar::new(settings.timezone);
    let table = nodes::by_node(&logs.figures, day.map(|d| (d, &calendar)));
    print_table(&table, format, &logs.skipped)
}

fn run_probes(
    args: &ReportArgs,
    settings: &Settings,
    dir: &std::path::Path,
    recording: &Recording,
    day: Option<Day>,
) -> anyhow::Result<()> {
    let name = args.metric.as_deref().unwrap_or("rtt");
    let metric = ProbeMetric::from_name(name).ok_or_else(|| {
        UsageError(format!(
            "--metric {name:?}: expected rtt, loss_fwd, loss_rev, reorder_fwd or reorder_rev"
        ))
    })?;
    if args.filter.is_some() {
        return Err(UsageError(
            "--filter selects peers by ISP, channel and district; it does not apply to --probes"
                .into(),
        )
        .into());
    }
    if recording.probes.is_empty() {
        return Err(UsageError(format!(
            "no probe records in {}: expected probes/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl[.gz] files below it",
            dir.display()
        ))
        .into());
    }
    let calendar = Calendar::new(settings.timezone);
    let (table, skipped) =
        probes::probe_table(&recording.probes, metric, day.map(|d| (d, &calendar)));
    print_table(&table, args.format, &skipped)
}

/// An explanation: the table with a heading line that says what was compared (text),
/// or the JSON document with the comparison beside its rows; CSV holds the rows only.
fn print_explanation(e: &explain::Explained, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Table => format!("{}\n{}", e.heading, e.table.render(format, &e.skipped)),
        Format::Csv => e.table.render(format, &e.skipped),
        Format::Json => {
            let mut doc = e.table.json_doc(&e.skipped);
            if let (Some(doc), Some(summary)) = (doc.as_object_mut(), e.summary.as_object()) {
                doc.extend(summary.clone());
            }
            let mut s = serde_json::to_string_pretty(&doc).context("explanation JSON")?;
            s.push('\n');
            s
        }
    };
    write_out(&text, format, &e.skipped)
}

/// Writes the table to stdout (a reader that went away, `| head`, is not an error);
/// the skipped-lines summary goes to stderr for CSV, and damaged files are named on
/// stderr for the formats whose footer cannot hold them.
fn print_table(table: &Table, format: Format, skipped: &Skipped) -> anyhow::Result<()> {
    write_out(&table.render(format, skipped), format, skipped)
}

fn write_out(text: &str, format: Format, skipped: &Skipped) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        bail!("cannot write the report: {e}");
    }
    if format == Format::Csv {
        eprintln!("{skipped}");
    }
    if format != Format::Table {
        for (path, why) in &skipped.damaged_files {
            eprintln!("warning: {}: {why}", path.display());
        }
    }
    Ok(())
}

/// The log trees a report reads, named relative to its directory: which servers' logs
/// went into the figures.
fn trees_read(dir: &std::path::Path, trees: &[PathBuf]) -> String {
    let names: Vec<String> = trees
        .iter()
        .map(|t| match t.strip_prefix(dir) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => t.display().to_string(),
        })
        .collect();
    let plural = if names.len() == 1 { "" } else { "s" };
    format!(
        "reading {} log tree{plural} under {}: {}",
        names.len(),
        dir.display(),
        names.join(", ")
    )
}
