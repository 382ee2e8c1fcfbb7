//! The flags `replay` and `watch` share: a `--snapshot` frame, its size, clock and
//! filter, the redraw rate and where exports go.

use std::path::PathBuf;

use crate::cli::UsageError;
use crate::engine::query::filter::Filter;
use crate::engine::query::metric::Metric;
use crate::ui::frame::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::state::{UiState, View};

/// Flags shared by `replay` and `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct ViewArgs {
    /// Render one frame of VIEW as plain text to stdout and exit (overview, timeline,
    /// histogram, district, map, probes, explain)
    #[arg(long, value_name = "VIEW")]
    pub snapshot: Option<String>,
    /// Size of the --snapshot frame
    #[arg(long, default_value = "160x48", value_name = "WxH")]
    pub size: String,
    /// YYYY-MM-DD HH:MM in the configured zone: replay's --snapshot frame (default: the
    /// recording's end), or the clock watch starts from (default: now)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Filter for the --snapshot frame or the start, e.g. isp=PCCW,channel=main
    #[arg(long, value_name = "TERMS")]
    pub filter: Option<String>,
    /// The metric in focus (Timeline, maps, Explain): online, new_peers, up, down,
    /// contribution, p2p_share, startup_p50, startup_p90, continuity, qoe
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,
    /// Redraws per second at most
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub fps: u32,
    /// Where `e` writes CSV exports
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub export_dir: PathBuf,
}

impl ViewArgs {
    /// The `--snapshot` view and size, checked.
    pub fn snapshot(&self) -> anyhow::Result<Option<(View, u16, u16)>> {
        let Some(name) = &self.snapshot else {
            return Ok(None);
        };
        let view = View::from_name(name).ok_or_else(|| {
            UsageError(format!(
                "unknown view {name:?} for --snapshot (overview, timeline, histogram, district, map, probes, explain)"
            ))
        })?;
        let size = self
            .size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                UsageError(format!("--size {:?}: expected WxH, e.g. 160x48", self.size))
            })?;
        if size.0 < MIN_WIDTH || size.1 < MIN_HEIGHT {
            return Err(UsageError(format!(
                "--size {}: a frame is at least {MIN_WIDTH}x{MIN_HEIGHT}",
                self.size
            ))
            .into());
        }
        Ok(Some((view, size.0, size.1)))
    }

    /// Puts the `--metric` in focus, checked.
    pub fn apply_metric(&self, ui: &mut UiState) -> anyhow::Result<()> {
        let Some(key) = &self.metric else {
            return Ok(());
        };
        let metric = Metric::from_key(key).ok_or_else(|| {
            let keys: Vec<&str> = Metric::ALL.iter().map(|m| m.info().key).collect();
            UsageError(format!(
                "--metric {key:?}: expected one of {}",
                keys.join(", ")
            ))
        })?;
        ui.focus(metric);
        Ok(())
    }

    pub fn initial_filter(&self) -> anyhow::Result<Filter> {
        match &self.filter {
            None => Ok(Filter::default()),
            Some(t) => Filter::parse(t).map_err(|e| UsageError(format!("--filter: {e}")).into()),
        }
    }
}
