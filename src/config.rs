//! Settings: one serde tree with defaults in code, read from a TOML file, then
//! overridden by flags, then validated into [`Settings`].
//!
//! The file is `--config FILE`, else `$XDG_CONFIG_HOME/peerscope/config.toml`, else
//! `./config.toml`, else the built-in defaults (which the shipped `config.toml` repeats).
//! Relative paths in a file are relative to that file's directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::alerts::AlertRules;
use crate::engine::geography::location::IspNames;
use crate::engine::probes::route_change::RouteChangeParams;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// IANA zone for days and displayed clocks.
    pub timezone: String,
    pub window: WindowConfig,
    pub qoe: QoeParams,
    pub maps: MapsConfig,
    pub alerts: AlertRules,
    pub watch: WatchConfig,
    pub isp_names: IspNames,
    pub probes: ProbesConfig,
    pub probe: ProbeAgentConfig,
}

/// Route-change scoring of probe paths (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbesConfig {
    /// A round scoring above this is a route-change event.
    pub route_change_threshold: f64,
    /// Rounds of history a round is scored against.
    pub route_change_window: usize,
}

impl Default for ProbesConfig {
    fn default() -> Self {
        let d = RouteChangeParams::default();
        ProbesConfig {
            route_change_threshold: d.threshold,
            route_change_window: d.window,
        }
    }
}

/// One destination of `peerscope probe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDestination {
    pub name: String,
    /// `host:port` to open TCP connections to.
    pub addr: String,
    #[serde(default = "default_group")]
    pub group: String,
}

fn default_group() -> String {
    "default".into()
}

/// `peerscope probe` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeAgentConfig {
    /// This probe's name in its records (e.g. UA); default: the host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Feedback server or coordinator the records go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Seconds between rounds.
    pub interval_s: u64,
    /// TCP connects per destination and round.
    pub samples: u32,
    /// Give up on one connect after this long.
    pub timeout_ms: u64,
    /// Take the hop list from the system's traceroute when it is installed.
    pub traceroute: bool,
    pub destinations: Vec<ProbeDestination>,
}

impl Default for ProbeAgentConfig {
    fn default() -> Self {
        ProbeAgentConfig {
            name: None,
            server: None,
            interval_s: 600,
            samples: 10,
            timeout_ms: 2_000,
            traceroute: false,
            destinations: Vec::new(),
        }
    }
}

/// `peerscope watch` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Feedback servers followed when no --server or --dir is given.
    pub servers: Vec<String>,
    /// Minutes of history read from each source at start.
    pub backfill_min: u32,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            servers: Vec::new(),
            backfill_min: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Default sliding window, seconds.
    pub default_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MapsConfig {
    /// IP-location table `cidr,isp,district,lat,lon`.
    pub ip_geo: PathBuf,
    pub districts: PathBuf,
    pub outline: PathBuf,
    /// MaxMind City database (`.mmdb`), for addresses the table does not cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_db: Option<PathBuf>,
    /// MaxMind ASN database (`.mmdb`), named as ISPs through `[isp_names]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn_db: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timezone: "Asia/Hong_Kong".into(),
            window: WindowConfig::default(),
            qoe: QoeParams::default(),
            maps: MapsConfig::default(),
            alerts: AlertRules::default(),
            watch: WatchConfig::default(),
            isp_names: IspNames::default(),
            probes: ProbesConfig::default(),
            probe: ProbeAgentConfig::default(),
        }
    }
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig { default_s: 60 }
    }
}

impl Default for MapsConfig {
    fn default() -> Self {
        MapsConfig {
            ip_geo: "maps/ip-geo.csv".into(),
            districts: "maps/hk-districts.geojson".into(),
            outline: "maps/hk-outline.geojson".into(),
            city_db: None,
            asn_db: None,
        }
    }
}

/// Flags that every command shares (DESIGN §7).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// Configuration file (TOML)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// IP-location table, `cidr,isp,district,lat,lon`
    #[arg(long, global = true, value_name = "FILE")]
    pub ip_geo: Option<PathBuf>,
    /// IANA time zone for days and clocks, e.g. `Asia/Hong_Kong` or UTC
    #[arg(long, global = true, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Override any configuration key, e.g. --set qoe.lambda=0.002 (repeatable)
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub timezone: Tz,
    pub window_s: u32,
    pub qoe: QoeParams,
    pub ip_geo: PathBuf,
    /// Where `ip_geo` was chosen (`--ip-geo`, a file's key, the default), for messages:
    /// "given by --ip-geo".
    pub ip_geo_origin: String,
    pub districts: PathBuf,
    pub outline: PathBuf,
    pub alerts: AlertRules,
    pub watch: WatchConfig,
    pub city_db: Option<PathBuf>,
    pub asn_db: Option<PathBuf>,
    pub isp_names: IspNames,
    pub route_change: RouteChangeParams,
    pub probe: ProbeAgentConfig,
    /// Where the settings came from, for messages.
    pub source: Option<PathBuf>,
}

impl Config {
    pub fn from_toml(text: &str, path: &Path) -> anyhow::Result<Config> {
        toml::from_str(text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    fn anchored(mut self, dir: &Path) -> Config {
        for p in [
            &mut self.maps.ip_geo,
            &mut self.maps.districts,
            &mut self.maps.outline,
        ] {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        for p in [&mut self.maps.city_db, &mut self.maps.asn_db]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        self
    }
}

/// Finds and reads the configuration file, applies the flags, validates.
pub fn resolve(args: &CommonArgs) -> anyhow::Result<Settings> {
    let (mut config, source) = match config_path(args) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read configuration {}", path.display()))?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (Config::from_toml(&text, &path)?.anchored(&dir), Some(path))
        }
        None => (Config::default(), None),
    };
    if !args.overrides.is_empty() {
        config = apply_overrides(config, &args.overrides)?;
    }
    if let Some(p) = &args.ip_geo {
        config.maps.ip_geo.clone_from(p);
    }
    if let Some(z) = &args.timezone {
        config.timezone.clone_from(z);
    }
    let mut settings = validate(config, source)?;
    if args.ip_geo.is_some() {
        "given by --ip-geo".clone_into(&mut settings.ip_geo_origin);
    } else if args
        .overrides
        .iter()
        .any(|o| o.trim_start().starts_with("maps.ip_geo"))
    {
        "given by --set maps.ip_geo".clone_into(&mut settings.ip_geo_origin);
    }
    Ok(settings)
}

/// Applies `key.path=value` overrides through the same serde tree as the file, so a
/// typo in a key or a wrong type is the same clear error. A value that is not TOML
/// (`UTC`, a path) is taken as a string.
pub fn apply_overrides(config: Config, overrides: &[String]) -> anyhow::Result<Config> {
    let mut tree = toml::Value::try_from(config).context("cannot represent the configuration")?;
    for item in overrides {
        let Some((key, raw)) = item.split_once('=') else {
            bail!("--set {item:?}: expected KEY=VALUE, e.g. qoe.lambda=0.002");
        };
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
        let mut node = &mut tree;
        let parts: Vec<&str> = key.trim().split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(table) = node.as_table_mut() else {
                bail!("--set {item:?}: {} is not a section", parts[..i].join("."));
            };
            if i + 1 == parts.len() {
                table.insert((*part).to_owned(), value.clone());
                break;
            }
            node = table
                .entry((*part).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        }
    }
    tree.try_into::<Config>()
        .map_err(|e| anyhow::anyhow!("invalid --set: {e}"))
}

fn config_path(args: &CommonArgs) -> Option<PathBuf> {
    if let Some(p) = &args.config {
        return Some(p.clone());
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("peerscope/config.toml"));
    [xdg, Some(PathBuf::from("config.toml"))]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

pub fn validate(config: Config, source: Option<PathBuf>) -> anyhow::Result<Settings> {
    let timezone: Tz = config.timezone.parse().map_err(|_| {
        anyhow::anyhow!(
            "unknown time zone {:?} (expected an IANA name such as Asia/Hong_Kong)",
            config.timezone
        )
    })?;
    let q = config.qoe;
    if ![q.c1, q.c2, q.a, q.lambda].iter().all(|x| x.is_finite()) {
        bail!("qoe constants must be finite numbers, got {q:?}");
    }
    // MOS must rise with bitrate and fall with stalls (DESIGN §5), or it means nothing.
    if q.lambda <= 0.0 || q.a <= 0.0 {
        bail!(
            "qoe.lambda and qoe.a must be above 0 (the score rises with bitrate), got lambda = {}, a = {}",
            q.lambda,
            q.a
        );
    }
    if q.c1 > 0.0 {
        bail!(
            "qoe.c1 must be 0 or below (the score falls with stalls), got {}",
            q.c1
        );
    }
    let p = &config.probes;
    if !(p.route_change_threshold.is_finite() && p.route_change_threshold > 0.0) {
        bail!(
            "probes.route_change_threshold must be a positive number, got {}",
            p.route_change_threshold
        );
    }
    if p.route_change_window < 2 {
        bail!(
            "probes.route_change_window must be at least 2 rounds, got {}",
            p.route_change_window
        );
    }
    let route_change = RouteChangeParams {
        window: p.route_change_window,
        threshold: p.route_change_threshold,
        ..RouteChangeParams::default()
    };
    if config.window.default_s == 0 {
        bail!("window.default_s must be at least 1 second");
    }
    Ok(Settings {
        timezone,
        window_s: config.window.default_s,
        qoe: q,
        ip_geo: config.maps.ip_geo,
        ip_geo_origin: source.as_ref().map_or_else(
            || {
                "the default path; set maps.ip_geo in a configuration file or pass --ip-geo FILE"
                    .into()
            },
            |p| format!("given by maps.ip_geo in {}", p.display()),
        ),
        districts: config.maps.districts,
        outline: config.maps.outline,
        alerts: config.alerts,
        watch: config.watch,
        city_db: config.maps.city_db,
        asn_db: config.maps.asn_db,
        isp_names: config.isp_names,
        route_change,
        probe: config.probe,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let text = std::fs::read_to_string(&path).expect("config.toml at the repository root");
        assert_eq!(
            Config::from_toml(&text, &path).expect("valid"),
            Config::default()
        );
    }

    #[test]
    fn set_overrides_any_key_and_rejects_unknown_ones() {
        let c = apply_overrides(
            Config::default(),
            &["qoe.lambda=0.002".into(), "timezone=UTC".into()],
        )
        .expect("valid");
        assert!((c.qoe.lambda - 0.002).abs() < f64::EPSILON);
        assert_eq!(c.timezone, "UTC");
        let c =
            apply_overrides(Config::default(), &["window.default_s=300".into()]).expect("valid");
        assert_eq!(c.window.default_s, 300);
        let err = apply_overrides(Config::default(), &["qoe.lamda=1".into()]).expect_err("typo");
        assert!(err.to_string().contains("lamda"), "{err}");
        let err = apply_overrides(Config::default(), &["qoe.c1=high".into()]).expect_err("type");
        assert!(
            err.to_string().contains("c1") || err.to_string().contains("float"),
            "{err}"
        );
        assert!(apply_overrides(Config::default(), &["qoe".into()]).is_err());
    }

    #[test]
    fn unknown_keys_and_zones_are_errors() {
        let p = Path::new("x.toml");
        let err = Config::from_toml("timezon = \"UTC\"", p).expect_err("typo");
        assert!(format!("{err:#}").contains("timezon"), "{err:#}");
        let cfg = Config {
            timezone: "Mars/Olympus".into(),
            ..Config::default()
        };
        let err = validate(cfg, None).expect_err("bad zone");
        assert!(err.to_string().contains("Mars/Olympus"));
    }

    #[test]
    fn flags_override_the_file_and_paths_anchor_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "timezone = \"UTC\"\n[maps]\nip_geo = \"geo.csv\"\n").expect("write");
        let args = CommonArgs {
            config: Some(file.clone()),
            ..CommonArgs::default()
        };
        let s = resolve(&args).expect("valid");
        assert_eq!(s.ip_geo, dir.path().join("geo.csv"));
        assert_eq!(s.timezone, chrono_tz::UTC);
        let args = CommonArgs {
            timezone: Some("Europe/London".into()),
            ..args
        };
        assert_eq!(
            resolve(&args).expect("valid").timezone,
            chrono_tz::Europe::London
        );
    }
}
