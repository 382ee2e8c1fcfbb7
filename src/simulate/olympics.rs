//! Scenario `olympics2012`: the 2012 London Olympics broadcast in Hong Kong.
//!
//! 17 days from 2012-07-27 to 2012-08-12 (HKT) and 177,245 distinct users, each with a
//! first day, a fixed address (ISP by the published IP coverage, district by population)
//! and a player. Each day some users watch: all of that day's new users and a share of
//! earlier ones sized so the day peaks near the target concurrency. Each viewer watches
//! one or more views (sessions) started along a diurnal curve. On 2012-08-07 at 09:30 a
//! flash crowd joins within minutes and playback suffers while it lasts.

use super::plan::{DISTRICTS, IPV6_SHARE, ISPS, UNLISTED_SHARE, ipv4, ipv6, unlisted};
use super::rng::{Rng, Weighted, mix};

pub const DAYS: usize = 17;
/// 2012-07-27 00:00 HKT.
pub const EVENT_START_MS: i64 = 1_343_318_400_000;
pub const DAY_MS: i64 = 86_400_000;
pub const USERS: f64 = 177_245.0;
pub const PEAK: f64 = 7_000.0;

/// Relative number of first-time users per day: the opening weekend brings the most.
const NEW_USER_WEIGHTS: [f64; DAYS] = [
    20.0, 16.0, 12.0, 10.0, 9.0, 8.0, 8.0, 7.5, 7.0, 6.5, 6.0, 7.0, 5.5, 5.0, 4.5, 4.0, 4.5,
];
/// Relative size of each day's audience (1.0 = the event's peak day).
const DAY_INTEREST: [f64; DAYS] = [
    0.62, 0.78, 0.82, 0.85, 0.86, 0.88, 0.90, 0.92, 0.95, 0.93, 0.90, 0.94, 0.90, 0.88, 0.87, 0.86,
    0.92,
];
/// Relative rate of view starts per local hour: London's evening sessions are the small
/// hours in Hong Kong, and people also watch after work.
const HOURLY_STARTS: [f64; 24] = [
    0.95, 0.90, 0.95, 1.00, 0.75, 0.40, 0.18, 0.14, 0.18, 0.26, 0.30, 0.32, 0.36, 0.36, 0.36, 0.40,
    0.46, 0.56, 0.70, 0.78, 0.86, 0.90, 0.96, 1.00,
];
/// Peak concurrency per daily viewer produced by the view model above (measured).
const PEAK_PER_VIEWER: f64 = 0.0875;
/// Mean view length, minutes, and extra views per viewer-day.
const VIEW_MEAN_MIN: f64 = 50.0;
const EXTRA_VIEWS: f64 = 0.7;

/// The flash crowd: 2012-08-07 09:30 HKT.
pub const FLASH_DAY: usize = 11;
pub const FLASH_AT_MS: i64 = EVENT_START_MS + FLASH_DAY as i64 * DAY_MS + (9 * 60 + 30) * 60_000;
/// While the crowd is in, stalls are frequent: [start, end).
pub const FLASH_TROUBLE: (i64, i64) = (FLASH_AT_MS - 2 * 60_000, FLASH_AT_MS + 40 * 60_000);

pub const CHANNELS: [(&str, f64, f64); 6] = [
    ("main", 0.40, 420.0),
    ("athletics", 0.15, 430.0),
    ("swimming", 0.15, 410.0),
    ("football", 0.10, 440.0),
    ("badminton", 0.10, 400.0),
    ("cycling", 0.10, 415.0),
];
pub const NATS: [(&str, f64, f64); 4] = [
    ("open", 0.20, 1.30),
    ("cone", 0.45, 1.05),
    ("symmetric", 0.20, 0.50),
    ("unknown", 0.15, 0.80),
];
pub const PLAYERS: [&str; 3] = ["ps-2.3.1", "ps-2.4.0", "ps-2.4.2"];
pub const OSES: [&str; 5] = ["win7", "winxp", "macos", "android", "ios"];

#[derive(Debug, Clone)]
pub struct User {
    pub peer: String,
    pub ip: String,
    /// Index into the plan's ISPs (`ISPS.len()`: an unlisted network) and districts
    /// (`u8::MAX` for an unlisted network): what a fault matches.
    pub isp: u8,
    pub district: u8,
    pub first_day: u8,
    pub favourite_channel: u8,
    pub nat: u8,
    pub player: u8,
    pub os: u8,
    /// The peer's clock minus the server's, ms.
    pub clock_skew_ms: i32,
}

#[derive(Debug, Clone, Copy)]
pub struct View {
    pub start: i64,
    pub end: i64,
    pub user: u32,
    pub id: u64,
    pub channel: u8,
    /// False when the player vanishes without a leave (the view times out).
    pub leaves: bool,
    /// Joined with the flash crowd (these suffer the most).
    pub crowd: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub seed: u64,
    pub users: f64,
    pub peak: f64,
}

pub struct Population {
    pub users: Vec<User>,
    pub views: Vec<View>,
    /// Injected faults (`simulate --fault`), none by default.
    pub faults: Vec<super::faults::Fault>,
}

pub fn population(k: Knobs, days: std::ops::Range<usize>) -> Population {
    let users = make_users(k);
    let mut by_day: Vec<Vec<u32>> = vec![Vec::new(); DAYS];
    for (i, u) in users.iter().enumerate() {
        by_day[usize::from(u.first_day)].push(u32::try_from(i).unwrap_or(u32::MAX));
    }
    let mut views = Vec::new();
    let mut earlier = 0usize;
    for (day, new_today) in by_day.iter().enumerate() {
        if days.contains(&day) {
            day_views(k, day, new_today, earlier, &users, &mut views);
        }
        earlier += new_today.len();
    }
    views.sort_by_key(|v| (v.start, v.id));
    Population {
        users,
        views,
        faults: Vec::new(),
    }
}

fn make_users(k: Knobs) -> Vec<User> {
    let mut rng = Rng::new(k.seed, 1);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = k.users.round().max(1.0) as usize;
    let total_w: f64 = NEW_USER_WEIGHTS.iter().sum();
    // Users numbered by first day: the first N0 on day 0, and so on.
    let mut first_days = Vec::with_capacity(n);
    let mut acc = 0.0;
    for (d, w) in NEW_USER_WEIGHTS.iter().enumerate() {
        acc += w / total_w;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let until = ((acc * n as f64).round() as usize).min(n);
        while first_days.len() < until {
            first_days.push(u8::try_from(d).unwrap_or(0));
        }
    }
    let mut isp_w: Vec<f64> = ISPS.iter().map(|i| i.1).collect();
    isp_w.push(UNLISTED_SHARE);
    let isp_pick = Weighted::new(&isp_w);
    let district_pick = Weighted::new(&DISTRICTS.map(|d| f64::from(d.1)));
    let channel_pick = Weighted::new(&CHANNELS.map(|c| c.1));
    let nat_pick = Weighted::new(&NATS.map(|n| n.1));
    let mut seen = vec![[0u32; 18]; ISPS.len()];
    let mut unlisted_n = 0;
    let salt = mix(k.seed ^ 0x7065_6572);
    first_days
        .into_iter()
        .enumerate()
        .map(|(i, first_day)| {
            let isp = isp_pick.pick(&mut rng);
            let (ip, district) = if isp == ISPS.len() {
                unlisted_n += 1;
                (unlisted(unlisted_n).to_string(), u8::MAX)
            } else {
                let d = district_pick.pick(&mut rng);
                let n = seen[isp][d];
                seen[isp][d] += 1;
                let ip = if isp <= 1 && rng.chance(IPV6_SHARE) {
                    ipv6(isp, d, n).to_string()
                } else {
                    ipv4(isp, d, n).to_string()
                };
                (ip, small(d))
            };
            User {
                peer: format!("p{:016x}", mix(salt ^ i as u64)),
                ip,
                isp: small(isp),
                district,
                first_day,
                favourite_channel: small(channel_pick.pick(&mut rng)),
                nat: small(nat_pick.pick(&mut rng)),
                player: small(rng.below(PLAYERS.len() as u64) as usize),
                os: small(rng.below(OSES.len() as u64) as usize),
                #[allow(clippy::cast_possible_truncation)]
                clock_skew_ms: (rng.normal() * 1500.0) as i32,
            }
        })
        .collect()
}

fn small(i: usize) -> u8 {
    u8::try_from(i).unwrap_or(0)
}

fn day_views(
    k: Knobs,
    day: usize,
    new_today: &[u32],
    earlier: usize,
    users: &[User],
    out: &mut Vec<View>,
) {
    let mut rng = Rng::new(k.seed, 1000 + day as u64);
    #[allow(clippy::cast_precision_loss)]
    let target = k.peak * DAY_INTEREST[day] / PEAK_PER_VIEWER;
    #[allow(clippy::cast_precision_loss)]
    let returning = if earlier == 0 {
        0.0
    } else {
        ((target - new_today.len() as f64) / earlier as f64).clamp(0.0, 0.95)
    };
    let hour_pick = Weighted::new(&HOURLY_STARTS);
    let day_start = EVENT_START_MS + day as i64 * DAY_MS;
    let salt = mix(k.seed ^ (day as u64) << 32);
    let viewer = |u: u32, rng: &mut Rng, out: &mut Vec<View>| {
        let n = 1 + rng.poisson(EXTRA_VIEWS);
        #[allow(clippy::cast_possible_truncation)]
        let mut start = day_start
            + i64::try_from(hour_pick.pick(rng)).unwrap_or(0) * 3_600_000
            + (rng.unit() * 3_600_000.0) as i64;
        for _ in 0..n {
            let v = one_view(rng, users, u, start, salt, out.len(), false);
            start = v.end + (rng.exponential(90.0) * 60_000.0) as i64 + 60_000;
            if start >= day_start + DAY_MS {
                out.push(v);
                break;
            }
            out.push(v);
        }
    };
    for i in 0..earlier {
        let u = u32::try_from(i).unwrap_or(u32::MAX);
        #[allow(clippy::cast_precision_loss)]
        let draw = (mix(salt ^ u64::from(u)) >> 11) as f64 / (1u64 << 53) as f64;
        if draw < returning {
            viewer(u, &mut rng, out);
        }
    }
    for &u in new_today {
        viewer(u, &mut rng, out);
    }
    if day == FLASH_DAY {
        flash_crowd(k, &mut rng, users, salt, out);
    }
}

fn one_view(
    rng: &mut Rng,
    users: &[User],
    user: u32,
    start: i64,
    salt: u64,
    n: usize,
    crowd: bool,
) -> View {
    let u = &users[user as usize];
    let channel = if rng.chance(0.7) {
        u.favourite_channel
    } else {
        small(rng.below(CHANNELS.len() as u64) as usize)
    };
    let mean = if crowd { 40.0 } else { VIEW_MEAN_MIN };
    #[allow(clippy::cast_possible_truncation)]
    let len = (rng.lognormal(mean, 0.9).clamp(0.5, 480.0) * 60_000.0) as i64;
    View {
        start,
        end: start + len,
        user,
        id: mix(salt ^ (n as u64).wrapping_mul(0x9E37)),
        channel,
        leaves: rng.chance(0.9),
        crowd,
    }
}

fn flash_crowd(k: Knobs, rng: &mut Rng, users: &[User], salt: u64, out: &mut Vec<View>) {
    // About 55 % of the peak joins within minutes, from everyone who has watched so far.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let crowd = (k.peak * 0.55).round() as usize;
    let known = users
        .iter()
        .filter(|u| usize::from(u.first_day) <= FLASH_DAY)
        .count()
        .max(1);
    for _ in 0..crowd {
        let user = u32::try_from(rng.below(known as u64)).unwrap_or(0);
        #[allow(clippy::cast_possible_truncation)]
        let start = FLASH_AT_MS + (rng.normal() * 150_000.0) as i64;
        let v = one_view(rng, users, user, start, salt ^ 0xF1A5, out.len(), true);
        out.push(v);
    }
}
